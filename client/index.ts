export { TokenVendorClient, type TokenVendorClientOptions } from './client';
export { postgresPasswordProvider } from './postgres-password';
export * from './types';
