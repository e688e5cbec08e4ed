'use strict';
// The listener most Node tutorials show (pg's Client, LISTEN, a 'notification' handler): the
// everyday alternative pgpulse has to beat.
//
//   node node_pg_listener.js CONNINFO CHANNEL COUNT
//
// Prints `ready` on stderr once LISTEN has committed, counts notifications until COUNT have
// arrived and exits 0. Nothing goes to stdout: the benchmark measures CPU from outside.
const { Client } = require('pg');

const [conninfo, channel, countArg] = process.argv.slice(2);
if (countArg === undefined) {
  console.error('usage: node node_pg_listener.js CONNINFO CHANNEL COUNT');
  process.exit(2);
}
const count = Number(countArg);

const client = new Client({ connectionString: conninfo, application_name: 'bench_node_pg_listener' });
let received = 0;
client.on('notification', () => {
  // Exit at once, like the C reference: no graceful close inside the measured time.
  if (++received >= count) process.exit(0);
});
client.on('error', (err) => {
  console.error(`node_pg_listener: ${err.message}`);
  process.exit(1);
});

(async () => {
  await client.connect();
  await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
  process.stderr.write('ready\n');
})().catch((err) => {
  console.error(`node_pg_listener: ${err.message}`);
  process.exit(1);
});
