// Fan-out: one queue message per app; the host scales this out, retries a failure and, after host.json
// maxDequeueCount attempts, moves the message to `<queue>-poison` (the handler raises PoisonMessage first).
import { app } from '@azure/functions';
import { lazyHandler } from './app/lazy.js';

app.storageQueue('rotateApp', {
  queueName: '%ROTATION_QUEUE%',
  connection: 'AzureWebJobsStorage',
  handler: lazyHandler('rotateAppFromQueue'),
});
