export { TokenVendorClient, type TokenVendorClientOptions } from './client';
export { openEnvelope } from './envelope';
export { postgresPasswordProvider } from './postgres-password';
export * from './types';
