# The worker side of a local Lambda instance for the python3.x runtimes: the counterpart of
# runtime.ts for Node. The function pool spawns it with the user's Python and an 'ipc' stdio entry:
# Node passes that channel's fd in NODE_CHANNEL_FD, and both sides write newline-delimited JSON.
#
# It imports the Handler's module once (init), then runs one invocation at a time on request. Right
# after writing each reply it stops itself with SIGSTOP, which is what Lambda's freeze does: threads
# and timers of the handler make no progress until the pool sends SIGCONT for the next invocation.
#
# Before the handler's module loads it takes the gateway's private variables out of the
# environment and installs egress: a connection to a routed AWS host (the app's execute-api and
# DynamoDB endpoints) goes to the gateway's servers on loopback (getaddrinfo answers 127.0.0.1 and
# the route's port; TLS keeps the host name for SNI and the certificate check), and every TLS
# context also trusts the gateway's local CA. Any other AWS host is refused, loudly.
#
# The handler rules and error names are those of AWS's runtime interface client (awslambdaric),
# written anew here. Standard library only: it runs on whatever python3 the user has.
import errno
import json
import logging
import os
import signal
import socket
import ssl
import sys
import time
import traceback

EGRESS_VARIABLE = "WS_OUTBOX_EGRESS"
CA_VARIABLE = "WS_OUTBOX_CA_FILE"
AWS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws", ".c2s.ic.gov", ".sc2s.sgov.gov", ".cloud.adc-e.uk", ".csp.hci.ic.gov")
THIS_FILE = os.path.abspath(__file__)


# --- the IPC channel ------------------------------------------------------------------------------

class Channel:
    def __init__(self, fd):
        os.set_inheritable(fd, False)
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(True)
        self.buffer = b""

    def send(self, message):
        # Blocking and whole: once sendall returns the reply is in the kernel's buffer, so stopping
        # right after leaves nothing of it inside a frozen process.
        self.sock.sendall((json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8"))

    def receive(self):
        """The next message; None when the gateway's end is closed."""
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)


channel = None
current_request = None


# --- egress ---------------------------------------------------------------------------------------

def is_aws_host(host):
    return any(host == suffix[1:] or host.endswith(suffix) for suffix in AWS_SUFFIXES)


def refused(host, port):
    return ConnectionRefusedError(
        errno.ECONNREFUSED,
        "connect ECONNREFUSED %s:%s (ws-outbox local gateway: only the app's execute-api, DynamoDB, SQS and Lambda endpoints "
        "are served locally; this call would reach real AWS)" % (host, port),
    )


def install_egress(config):
    routes = {host.lower().rstrip("."): route for host, route in config.get("routes", {}).items()}
    original = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        name = (name or "").lower().rstrip(".")
        if not is_aws_host(name):
            return original(host, port, family, type, proto, flags)
        number = 443 if port is None else int(port) if str(port).isdigit() else socket.getservbyname(port)
        route = routes.get(name)
        if route is None:
            try:
                channel.send({"type": "egress-refused", "host": name, "port": number, "requestId": current_request})
            except OSError:
                pass
            raise refused(name, number)
        local = route["plain"] if number == 80 else route["tls"]
        return original("127.0.0.1", local, socket.AF_INET, type, proto, flags)

    socket.getaddrinfo = getaddrinfo


def trust_local_ca(ca_file):
    """Every TLS context trusts the gateway's local CA besides what it is told to (certifi's bundle, the system's)."""
    with open(ca_file, encoding="ascii") as f:
        ca_pem = f.read()
    context_class = ssl.SSLContext
    original_locations = context_class.load_verify_locations

    def add_local_ca(context):
        if not getattr(context, "_ws_outbox_local_ca", False):
            original_locations(context, cadata=ca_pem)
            context._ws_outbox_local_ca = True

    def load_verify_locations(self, cafile=None, capath=None, cadata=None):
        original_locations(self, cafile, capath, cadata)
        add_local_ca(self)

    def wrap(original):
        def method(self, *args, **kwargs):
            result = original(self, *args, **kwargs)
            add_local_ca(self)
            return result

        return method

    context_class.load_verify_locations = load_verify_locations
    context_class.load_default_certs = wrap(context_class.load_default_certs)
    context_class.set_default_verify_paths = wrap(context_class.set_default_verify_paths)


# --- the handler ----------------------------------------------------------------------------------

class LambdaError(Exception):
    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


def requirements_hint(task_root):
    requirements = os.path.join(task_root, "requirements.txt")
    if not os.path.exists(requirements):
        return ""
    return (
        "\n  The function's folder has %s: sam build installs it into the function's code; locally, "
        "install it into the python3 the gateway runs: pip install -r %s" % (requirements, requirements)
    )


def load_handler(task_root, spec):
    try:
        module_name, function_name = spec.rsplit(".", 1)
    except ValueError as e:
        raise LambdaError("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (spec, e))
    import importlib

    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise LambdaError("Runtime.BuiltInModuleConflict", "Cannot use built-in module %s as a handler module" % module_name)
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        hint = requirements_hint(task_root) if isinstance(e, ModuleNotFoundError) else ""
        raise LambdaError("Runtime.ImportModuleError", "Unable to import module '%s': %s%s" % (module_name, e, hint))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise LambdaError("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (module_name, e), trace)
    handler = getattr(module, function_name, None)
    if handler is None:
        raise LambdaError("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (function_name, module_name))
    return handler


class CognitoIdentity:
    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self):
        self.cognito_identity_id = None
        self.cognito_identity_pool_id = None

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id=None,cognito_identity_pool_id=None])"


class LambdaContext:
    def __init__(self, request_id, deadline_ms):
        env = os.environ
        region = env.get("AWS_REGION", "us-east-1")
        self.aws_request_id = request_id
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = "arn:aws:lambda:%s:000000000000:function:%s" % (region, self.function_name)
        # A string, as awslambdaric reads it from the environment.
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/" + self.function_name)
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        # As Lambda's runtime has them for a direct invocation: an identity whose ids are None, no client context.
        self.identity = CognitoIdentity()
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def log(self, message):
        sys.stdout.write(message)
        sys.stdout.flush()

    def __repr__(self):
        fields = ("aws_request_id", "log_group_name", "log_stream_name", "function_name", "memory_limit_in_mb", "function_version", "invoked_function_arn", "client_context", "identity")
        return "LambdaContext([%s])" % ",".join("%s=%s" % (name, getattr(self, name)) for name in fields)


def user_frames(tb):
    """The traceback without this file's own frames, as Lambda's runtime leaves out its bootstrap."""
    frames = traceback.extract_tb(tb)
    while frames and os.path.abspath(frames[0].filename) == THIS_FILE:
        frames = frames[1:]
    return traceback.format_list(frames)


def log_error(error_type, message, trace):
    """Lambda's [ERROR] log record for an error that leaves the handler (or its init)."""
    lines = ["[ERROR] %s: %s" % (error_type, message) if message else "[ERROR] %s" % error_type]
    if trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in trace:
            lines.extend(element.splitlines() or [""])
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def decimal_default(value):
    import decimal

    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = current_request or ""
        return True


def install_logging():
    """The root logger's handler as Lambda's runtime sets it up (the level stays Python's WARNING)."""
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    handler.terminator = ""
    logging.getLogger().addHandler(handler)


def freeze():
    os.kill(os.getpid(), signal.SIGSTOP)


def invoke(handler, message):
    global current_request
    request_id = message["requestId"]
    current_request = request_id
    channel.send({"type": "started", "requestId": request_id})
    try:
        result = handler(message.get("event"), LambdaContext(request_id, message["deadlineMs"]))
        try:
            text = json.dumps(result, default=decimal_default, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise LambdaError("Runtime.MarshalError", "Unable to marshal response: %s" % e)
        reply = {"type": "result", "requestId": request_id, "result": text}
    except LambdaError as e:
        log_error(e.error_type, e.message, e.trace)
        reply = {"type": "error", "requestId": request_id, "error": {"errorType": e.error_type, "errorMessage": e.message}}
    except Exception as e:
        trace = user_frames(e.__traceback__)
        log_error(type(e).__name__, str(e), trace)
        reply = {"type": "error", "requestId": request_id, "error": {"errorType": type(e).__name__, "errorMessage": str(e), "trace": trace}}
    sys.stdout.flush()
    sys.stderr.flush()
    channel.send(reply)
    freeze()


def main():
    global channel
    started = time.monotonic()
    channel = Channel(int(os.environ.pop("NODE_CHANNEL_FD")))
    os.environ.pop("NODE_CHANNEL_SERIALIZATION_MODE", None)
    egress = os.environ.pop(EGRESS_VARIABLE, None)
    ca_file = os.environ.pop(CA_VARIABLE, None)
    if ca_file:
        trust_local_ca(ca_file)
    if egress:
        install_egress(json.loads(egress))
    install_logging()
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    # The task root first, as on Lambda; never this file's own folder.
    sys.path = [task_root] + [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(THIS_FILE)]
    os.chdir(task_root)
    try:
        handler = load_handler(task_root, os.environ.get("_HANDLER", "app.lambda_handler"))
    except LambdaError as e:
        log_error(e.error_type, e.message, e.trace or [])
        channel.send({"type": "init-error", "error": {"errorType": e.error_type, "errorMessage": e.message}})
        sys.exit(1)
    except Exception as e:
        # An exception raised while the module runs its top level.
        trace = user_frames(e.__traceback__)
        log_error(type(e).__name__, str(e), trace)
        channel.send({"type": "init-error", "error": {"errorType": type(e).__name__, "errorMessage": str(e), "trace": trace}})
        sys.exit(1)
    channel.send({"type": "ready", "initMs": round((time.monotonic() - started) * 1000)})
    while True:
        message = channel.receive()
        # The gateway's end closed: it is gone (a frozen instance cannot see this; the watchdog kills those).
        if message is None:
            os._exit(1)
        if message.get("type") == "invoke":
            invoke(handler, message)


if __name__ == "__main__":
    main()
