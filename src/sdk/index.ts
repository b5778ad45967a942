// The SDK: a typed HTTP client. Imports nothing from the server side.
export { StrataClient, StrataApiError, seg } from './client.ts';
export type { ClientOptions } from './client.ts';
