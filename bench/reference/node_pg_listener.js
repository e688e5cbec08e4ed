'use strict';
// The listener most Node tutorials show (pg's Client, LISTEN, a 'notification' handler): the
// everyday alternative pgpulse has to beat.
//
//   node node_pg_listener.js CONNINFO CHANNEL COUNT [--latency [WARMUP_SECONDS]]
//
// Prints `ready` on stderr once LISTEN has committed, counts notifications until COUNT have
// arrived and exits 0. Nothing goes to stdout (but with --latency): the benchmark measures CPU
// from outside.
//
// --latency (bench/latency.sh): each payload holds the row JSON with `"sent_us":N`, the
// writer's clock in microseconds; record the wall clock in the handler (performance.timeOrigin
// + performance.now(), microsecond resolution) minus N, drop those stamped within
// WARMUP_SECONDS of the first, and print the percentiles and its own CPU time since `ready`
// (cpu_us) as JSON on stdout at the end, as libpq_listener.c does. COUNT 0 means no limit;
// SIGTERM or SIGINT ends the run.
const { performance } = require('node:perf_hooks');
const { Client } = require('pg');

const [conninfo, channel, countArg, mode, warmupArg] = process.argv.slice(2);
const latency = mode === '--latency';
if (countArg === undefined || (mode !== undefined && !latency)) {
  console.error('usage: node node_pg_listener.js CONNINFO CHANNEL COUNT [--latency [WARMUP_S]]');
  process.exit(2);
}
const count = Number(countArg);
const warmupUs = Number(warmupArg ?? 0) * 1e6;
const samples = [];
let firstStamp = 0;
let cpuAtReady;

function record(payload) {
  const at = payload.indexOf('"sent_us":');
  if (at < 0) return;
  const stamp = parseInt(payload.slice(at + 10, at + 30), 10);
  const now = Math.round((performance.timeOrigin + performance.now()) * 1000);
  if (firstStamp === 0) firstStamp = stamp;
  if (stamp >= firstStamp + warmupUs) samples.push(Math.max(0, now - stamp));
}

function printLatency() {
  samples.sort((a, b) => a - b);
  const n = samples.length;
  const pct = (p) => (n ? samples[Math.min(n - 1, Math.floor(p * n))] : 0);
  const latencyUs = { p50: pct(0.5), p99: pct(0.99), p999: pct(0.999), max: pct(1), samples: n };
  const cpu = process.cpuUsage(cpuAtReady);
  const result = { cpu_us: cpu.user + cpu.system, events: received, latency_us: latencyUs };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

const client = new Client({ connectionString: conninfo, application_name: 'bench_node_pg_listener' });
let received = 0;
client.on('notification', (msg) => {
  if (latency) record(msg.payload);
  // Exit at once, like the C reference: no graceful close inside the measured time.
  if (++received >= count && !(latency && count === 0)) {
    if (latency) printLatency();
    process.exit(0);
  }
});
if (latency) {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      printLatency();
      process.exit(0);
    });
  }
}
client.on('error', (err) => {
  console.error(`node_pg_listener: ${err.message}`);
  process.exit(1);
});

(async () => {
  await client.connect();
  await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
  process.stderr.write('ready\n');
  cpuAtReady = process.cpuUsage();
})().catch((err) => {
  console.error(`node_pg_listener: ${err.message}`);
  process.exit(1);
});
