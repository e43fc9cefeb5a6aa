import express, { type Request, type Response } from 'express';
import { AppError } from '../../common/errors.ts';
import type { ArchiveService } from '../archive/ArchiveService.ts';
import { requestUser } from './auth.ts';
import type { StoredFileResponder } from './StoredFileResponder.ts';

/**
 * "Download your data":
 *   POST /api/archives           start building my archive (202; 409 ARCHIVE_IN_PROGRESS)
 *   GET  /api/archives/latest    my newest archive (with a signed download link when ready)
 *   GET  /api/archives/:id/download?expires=…&sig=…   the zip (Range supported)
 */
export function archivesRouter(archives: ArchiveService, files: StoredFileResponder): express.Router {
  const router = express.Router();
  const me = (req: Request) => {
    const user = requestUser(req);
    if (!user) throw new AppError('UNAUTHENTICATED', 'sign in to download your data');
    return user;
  };
  router.post('/', async (req: Request, res: Response) => {
    res.status(202).json({ archive: await archives.request(me(req)) });
  });
  router.get('/latest', async (req: Request, res: Response) => {
    res.json({ archive: await archives.latest(me(req).id) });
  });
  router.get('/:id/download', async (req: Request, res: Response) => {
    const q = req.query as Record<string, unknown>;
    const { key, record } = await archives.resolveDownload(
      String(req.params.id),
      typeof q.expires === 'string' ? q.expires : undefined,
      typeof q.sig === 'string' ? q.sig : undefined,
    );
    await files.send(req, res, key, {
      headers: {
        'Content-Type': 'application/zip',
        'Content-Disposition': `attachment; filename="spyglass-archive-${record.createdAt.slice(0, 10)}.zip"`,
        'Cache-Control': 'private, no-store',
      },
      notFound: () => new AppError('NOT_FOUND', 'archive not found'),
    });
  });
  return router;
}
