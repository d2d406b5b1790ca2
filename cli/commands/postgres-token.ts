import { defaultSqlApiBaseUrl } from '../../lambda/snowflake/account';
import { mintPostgresAccessToken } from '../../lambda/snowflake/postgres-token';
import { SqlApiClient } from '../../lambda/snowflake/sql-api';
import { checkedUrl, fileSignerFrom, parseCommand, required } from '../args';
import type { CliIo } from '../io';

/** `token-vendor postgres-token`: mint a Snowflake Postgres access token through the SQL API. */
export async function postgresToken(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand('postgres-token', args);
  const account = required(values.account, 'account', 'postgres-token');
  const sql = new SqlApiClient({
    baseUrl: values['api-url']
      ? checkedUrl(values['api-url'], '--api-url', 'postgres-token')
      : defaultSqlApiBaseUrl(account),
    account,
    user: required(values.user, 'user', 'postgres-token'),
    signer: fileSignerFrom(values, io, 'postgres-token'),
    role: values.role,
    warehouse: values.warehouse,
  });
  const minted = await mintPostgresAccessToken(sql, {
    instance: required(values.instance, 'instance', 'postgres-token'),
    username: required(values['pg-user'], 'pg-user', 'postgres-token'),
    deadline: Date.now() + 60_000,
  });
  if (!values.json) {
    io.stdout.write(`${minted.token}\n`);
    return;
  }
  io.stdout.write(`${JSON.stringify(minted, null, 2)}\n`);
}
