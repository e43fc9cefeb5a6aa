// Run as a separate process by stores.test.ts: opens (and so migrates) the SQLite file given
// as argv[2] and creates the user argv[3], as a second signalling process would.
import { createLogger } from '../../../common/logger.ts';
import { openDatabase } from '../../../signaling/store/Database.ts';
import { createStores } from '../../../signaling/store/index.ts';

const [sqlitePath, username] = process.argv.slice(2);
if (!sqlitePath || !username) throw new Error('usage: openDatabase.child.ts <sqlitePath> <username>');
const handle = await openDatabase({ sqlitePath, logger: createLogger({ level: 'silent' }) });
try {
  await createStores(handle.db, 'child-secret-0123456789').users.create(username, 'h');
} finally {
  await handle.close();
}
