// Key Vault certificate events from Event Grid: each event queues the apps bound to its certificate,
// verified live, through the nightly fan-out's queue. The Event Grid system topics and the subscription that
// delivers here are in infra/azuredeploy.json; the host's webhook is /runtime/webhooks/eventgrid?functionName=certificateEvents.
import { app } from '@azure/functions';
import { lazyEventHandler } from './app/lazy.js';

app.eventGrid('certificateEvents', {
  handler: lazyEventHandler('certificateEvents'),
});
