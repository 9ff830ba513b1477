// realtime.js — the SmartMarket realtime client (docs/REALTIME.md).
// Plain JavaScript, no build step, no dependencies. Works in browsers
// (window.SmartMarketRealtime, or `import` as an ES module via the global).
//
//   const sub = SmartMarketRealtime.subscribe('/admin/orders/', {
//     token,                       // API token; omit to use the sm_session cookie
//     onEvent(ev) { ... },         // {channel, epoch, seq, type, data, ts}
//     onReset(info) { ... },       // history is gone: reload state from the REST API
//     onStatus(s) { ... },         // 'connecting' | 'open' | 'reconnecting' | 'closed', transport
//   });
//   sub.close();
//
// Transport: WebSocket first; after WS_FAILURES_BEFORE_FALLBACK failed
// attempts without ever opening, Server-Sent Events; then long-polling.
// Reconnection: exponential backoff with full jitter (base 500 ms, cap
// 30 s), reset after a connection that stayed up. Resume: the client keeps
// the last (epoch, seq) it delivered and asks for what follows; events at
// or below that position are never delivered twice.
(function (root) {
  'use strict';

  var BACKOFF_BASE_MS = 500;
  var BACKOFF_MAX_MS = 30000;
  var WS_FAILURES_BEFORE_FALLBACK = 2;
  var SSE_FAILURES_BEFORE_FALLBACK = 2;
  var PING_MS = 20000;
  var TRANSPORTS = ['ws', 'sse', 'poll'];

  function subscribe(path, opts) {
    opts = opts || {};
    var base = opts.baseUrl || (root.location ? root.location.origin : '');
    var state = {
      epoch: opts.epoch || null,
      seq: typeof opts.since === 'number' ? opts.since : null,
      transport: opts.transport || 'ws',
      failures: 0,
      attempt: 0,
      closed: false,
      conn: null,
      timer: null,
    };

    function status(s) { if (opts.onStatus) opts.onStatus(s, state.transport); }

    function query(extra) {
      var q = [];
      if (state.seq !== null && state.epoch) {
        q.push('since=' + state.seq, 'epoch=' + encodeURIComponent(state.epoch));
      }
      if (opts.token && extra) q.push('token=' + encodeURIComponent(opts.token));
      return q.length ? '?' + q.join('&') : '';
    }

    // Handles one server frame; returns false for frames to ignore.
    function handle(msg) {
      if (msg.type === 'welcome') {
        if (!msg.resumed || msg.epoch !== state.epoch) {
          var hadPosition = state.epoch !== null && state.epoch !== msg.epoch;
          state.epoch = msg.epoch;
          state.seq = msg.seq;
          if (hadPosition && opts.onReset) opts.onReset({ reason: 'epoch', epoch: msg.epoch, seq: msg.seq });
        }
        return;
      }
      if (msg.type === 'history_gone') {
        state.epoch = msg.epoch;
        state.seq = msg.seq;
        if (opts.onReset) opts.onReset({ reason: 'history_gone', epoch: msg.epoch, seq: msg.seq });
        return;
      }
      if (msg.type === 'pong' || msg.type === 'error' || typeof msg.seq !== 'number') return;
      if (msg.epoch === state.epoch && state.seq !== null && msg.seq <= state.seq) return; // duplicate
      state.epoch = msg.epoch;
      state.seq = msg.seq;
      if (opts.onEvent) opts.onEvent(msg);
    }

    function opened() {
      state.failures = 0;
      state.attempt = 0;
      status('open');
    }

    function retry(everOpened) {
      if (state.closed) return;
      state.conn = null;
      if (!everOpened) {
        state.failures += 1;
        var limit = state.transport === 'ws' ? WS_FAILURES_BEFORE_FALLBACK : SSE_FAILURES_BEFORE_FALLBACK;
        var next = TRANSPORTS[TRANSPORTS.indexOf(state.transport) + 1];
        if (next && !opts.transport && state.failures >= limit) {
          state.transport = next;
          state.failures = 0;
        }
      }
      var cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * Math.pow(2, state.attempt));
      state.attempt += 1;
      var delay = Math.floor(Math.random() * cap); // full jitter
      status('reconnecting');
      state.timer = setTimeout(connect, delay);
    }

    function connectWs() {
      var url = base.replace(/^http/, 'ws') + '/ws' + path + query(false);
      var protocols = ['smartmarket.v1'];
      if (opts.token) protocols.push('bearer.' + opts.token);
      var ws = new root.WebSocket(url, protocols);
      var everOpened = false;
      var pinger = null;
      ws.onopen = function () {
        everOpened = true;
        opened();
        pinger = setInterval(function () { ws.send('{"type":"ping"}'); }, PING_MS);
      };
      ws.onmessage = function (e) {
        try { handle(JSON.parse(e.data)); } catch (err) { /* not JSON: ignored */ }
      };
      ws.onclose = function (e) {
        clearInterval(pinger);
        if (e.code === 4001 || e.code === 4003) { // the token no longer allows it
          state.closed = true;
          status('closed');
          if (opts.onAuthError) opts.onAuthError(e.code);
          return;
        }
        retry(everOpened);
      };
      return { close: function () { clearInterval(pinger); ws.close(1000); } };
    }

    function connectSse() {
      // EventSource cannot send headers: the token goes in the query, the
      // position too (Last-Event-ID is sent by the browser on its own
      // reconnections, which we replace with ours to control backoff).
      var es = new root.EventSource(base + '/sse' + path + query(true), { withCredentials: !opts.token });
      var everOpened = false;
      es.onopen = function () { everOpened = true; opened(); };
      es.onmessage = function (e) {
        try { handle(JSON.parse(e.data)); } catch (err) { /* ignored */ }
      };
      es.onerror = function () { es.close(); retry(everOpened); };
      return { close: function () { es.close(); } };
    }

    function connectPoll() {
      var aborted = false;
      var ctrl = root.AbortController ? new root.AbortController() : null;
      var everOpened = false;
      function once() {
        if (aborted) return;
        var headers = opts.token ? { Authorization: 'Bearer ' + opts.token } : {};
        root.fetch(base + '/poll' + path + query(false), {
          headers: headers, credentials: 'same-origin', signal: ctrl && ctrl.signal,
        }).then(function (r) {
          if (r.status === 401 || r.status === 403) throw new Error('auth ' + r.status);
          if (!r.ok) throw new Error('status ' + r.status);
          return r.json();
        }).then(function (body) {
          if (!everOpened) { everOpened = true; opened(); }
          var gone = body.history_gone || (state.epoch && body.epoch !== state.epoch && !body.events.length);
          if (gone) handle({ type: 'history_gone', epoch: body.epoch, seq: body.seq });
          else if (!state.epoch) state.epoch = body.epoch;
          body.events.forEach(handle);
          if (!gone) { state.epoch = body.epoch; state.seq = Math.max(state.seq || 0, body.seq); }
          once();
        }).catch(function () { if (!aborted) retry(everOpened); });
      }
      once();
      return { close: function () { aborted = true; if (ctrl) ctrl.abort(); } };
    }

    function connect() {
      if (state.closed) return;
      status('connecting');
      if (state.transport === 'ws' && root.WebSocket) state.conn = connectWs();
      else if (state.transport !== 'poll' && root.EventSource) {
        state.transport = 'sse';
        state.conn = connectSse();
      } else {
        state.transport = 'poll';
        state.conn = connectPoll();
      }
    }

    connect();
    return {
      close: function () {
        state.closed = true;
        clearTimeout(state.timer);
        if (state.conn) state.conn.close();
        status('closed');
      },
      position: function () { return { epoch: state.epoch, seq: state.seq }; },
      transport: function () { return state.transport; },
    };
  }

  root.SmartMarketRealtime = { subscribe: subscribe };
}(typeof window !== 'undefined' ? window : globalThis));
