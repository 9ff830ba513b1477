// redis.js — a throwaway Redis server for the tests that need one
// (cross-node delivery through the Redis bus). Started on a free 127.0.0.1
// port without persistence; stop() kills it.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, SCALE } from './harness.js';

export const REDIS_BIN = process.env.SM_REDIS_SERVER || '/usr/bin/redis-server';

function ping(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(500);
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')); });
    s.on('error', () => resolve(false));
    s.on('timeout', () => { s.destroy(); resolve(false); });
  });
}

/**
 * Starts redis-server; resolves {url, port, stop()}. `port` restarts one on
 * the port a stopped server had (no retry on another port then).
 */
export async function startRedis({ port: fixed } = {}) {
  for (let attempt = 0; attempt < (fixed ? 1 : 3); attempt += 1) {
    const port = fixed || await freePort();
    const proc = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let exited = false;
    proc.on('close', () => { exited = true; });
    const deadline = Date.now() + 10000 * SCALE;
    while (Date.now() < deadline && !exited) {
      if (await ping(port)) {
        return {
          port,
          url: `redis://127.0.0.1:${port}/0`,
          async stop() {
            if (exited) return;
            proc.kill('SIGTERM');
            await new Promise((r) => proc.on('close', r));
          },
        };
      }
      await sleep(50);
    }
    proc.kill('SIGKILL');
  }
  throw new Error('redis-server did not start');
}
