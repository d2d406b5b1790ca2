import { text } from 'node:stream/consumers';
import { tokenId } from '../../lambda/audit/token-id';
import { parseCommand } from '../args';
import { UsageError } from '../errors';
import type { CliIo } from '../io';

/** `token-vendor token-id`: the audit trail's one-way id of a token the operator holds. */
export async function tokenIdCommand(args: string[], io: CliIo): Promise<void> {
  const { positionals } = parseCommand('token-id', args, true);
  if (positionals.length !== 1)
    throw new UsageError('token-id: give exactly one token, or - to read it from stdin.');
  let token = positionals[0]!;
  if (token === '-') {
    if (!io.stdin) throw new UsageError('token-id: no stdin to read from.');
    token = (await text(io.stdin)).trim();
  }
  if (token === '') throw new UsageError('token-id: the token is empty.');
  io.stdout.write(`${tokenId(token)}\n`);
}
