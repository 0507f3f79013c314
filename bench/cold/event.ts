// What the bench apps read from a MESSAGE event.
export interface ColdEvent {
  requestContext: { connectionId: string; apiId: string; stage: string; domainName: string };
  body?: string;
}

export const routeOf = (event: ColdEvent) => `https://${event.requestContext.domainName}/${event.requestContext.stage}`;
