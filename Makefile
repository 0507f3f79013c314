# sam build: every function of template.yaml has `Metadata: BuildMethod: makefile`, so SAM runs
# `make build-<LogicalId>` here with ARTIFACTS_DIR set to .aws-sam/build/<LogicalId>. The bundle
# is the one `npm run build` and the local gateway make (packages/gateway/src/build.ts): the same esbuild
# settings, the handler from handlers/<CodeUri's last folder>.ts, `index.mjs` + its source map.
# The project's pinned Node 24 runs it (the bundler is TypeScript that Node 24 runs as is).
NODE := $(if $(wildcard node_modules/.bin/node),node_modules/.bin/node,node)

build-%:
	$(NODE) --conditions=ws-outbox-source packages/gateway/src/cli.ts build $* --artifacts-dir "$(ARTIFACTS_DIR)"
