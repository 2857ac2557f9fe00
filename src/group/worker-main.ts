/** Entry point of a worker process (forked by the primary, group/primary.ts). */
import { runWorker } from './worker.js';

runWorker();
