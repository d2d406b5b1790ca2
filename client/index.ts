/**
 * `token-vendor/client`: SigV4-signed calls to the Token Vendor from a service, typed answers, tokens
 * cached until shortly before `refreshAt`, and a password provider for node-postgres.
 *
 * @packageDocumentation
 * @module token-vendor/client
 */
export { TokenVendorClient, type TokenVendorClientOptions } from './client';
export { openEnvelope } from './envelope';
export { postgresPasswordProvider } from './postgres-password';
export * from './types';
