// Unit tests of frontend/static/hub/hub-client.js (node --test), with a fake
// WebSocket and fake timers. Run by tests/frontend/test_hub_client_js.py.

import assert from "node:assert/strict";
import { test } from "node:test";

import { HubClient } from "../../../frontend/static/hub/hub-client.js";

class FakeTimers {
  constructor() {
    this.now = 0;
    this.nextId = 1;
    this.tasks = new Map();
  }
  setTimeout(fn, ms) {
    const id = this.nextId++;
    this.tasks.set(id, { fn, at: this.now + ms, every: null });
    return id;
  }
  setInterval(fn, ms) {
    const id = this.nextId++;
    this.tasks.set(id, { fn, at: this.now + ms, every: ms });
    return id;
  }
  clearTimeout(id) {
    this.tasks.delete(id);
  }
  clearInterval(id) {
    this.tasks.delete(id);
  }
  advance(ms) {
    const until = this.now + ms;
    for (;;) {
      let next = null;
      for (const [id, task] of this.tasks) {
        if (task.at <= until && (next === null || task.at < next[1].at)) next = [id, task];
      }
      if (next === null) break;
      const [id, task] = next;
      this.now = task.at;
      if (task.every) task.at += task.every;
      else this.tasks.delete(id);
      task.fn();
    }
    this.now = until;
  }
  pending() {
    return [...this.tasks.values()].map((t) => t.at - this.now);
  }
}

function setup(options = {}) {
  const sockets = [];
  class FakeSocket {
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.readyState = 1;
      this.closedWith = null;
      sockets.push(this);
    }
    send(text) {
      this.sent.push(JSON.parse(text));
    }
    close(code) {
      this.closedWith = code;
      this.readyState = 3;
    }
    // Test helpers.
    serverSends(frame) {
      this.onmessage?.({ data: JSON.stringify(frame) });
    }
    serverCloses(code) {
      this.readyState = 3;
      this.onclose?.({ code });
    }
  }
  const timers = new FakeTimers();
  const navigated = [];
  const win = new EventTarget();
  const client = new HubClient({
    url: "ws://test/ws/",
    WebSocket: FakeSocket,
    timers,
    random: () => 0.5,
    window: win,
    navigate: (url) => navigated.push(url),
    ...options,
  });
  return { client, sockets, timers, navigated, win };
}

const hello = { type: "hello", user: 1, streams: ["user:1", "class:2"], heartbeat: 25 };

function event(stream, offset, extra = {}) {
  return {
    type: "event",
    stream,
    epoch: "e1",
    offset,
    kind: "timetable.occurrence",
    op: "cancelled",
    data: {},
    ts: "2026-01-19T08:00:00+00:00",
    ...extra,
  };
}

test("resumes known streams and subscribes to the others after hello", () => {
  const { client, sockets } = setup({ positions: { "user:1": { epoch: "e1", offset: 4 } } });
  client.start();
  sockets[0].serverSends(hello);
  const types = sockets[0].sent.map((f) => f.type);
  assert.deepEqual(types, ["resume", "subscribe"]);
  assert.deepEqual(sockets[0].sent[0].streams, { "user:1": { epoch: "e1", offset: 4 } });
  assert.deepEqual(sockets[0].sent[1].streams, ["class:2"]);
  assert.equal(client.state, "connected");
});

test("delivers in order, ignores duplicates and fills gaps", () => {
  const { client, sockets } = setup({ positions: { "class:2": { epoch: "e1", offset: 7 } } });
  const seen = [];
  client.on("timetable.occurrence", (e) => seen.push(e.offset));
  client.start();
  const socket = sockets[0];
  socket.serverSends(hello);
  socket.sent.length = 0;
  socket.serverSends(event("class:2", 8));
  socket.serverSends(event("class:2", 8)); // duplicate
  socket.serverSends(event("class:2", 7)); // old
  socket.serverSends(event("class:2", 10)); // gap: 9 missing
  assert.deepEqual(seen, [8]);
  assert.deepEqual(socket.sent, [
    { type: "resume", id: socket.sent[0].id, streams: { "class:2": { epoch: "e1", offset: 8 } } },
  ]);
  socket.serverSends(event("class:2", 11)); // still early: no second resume
  assert.equal(socket.sent.length, 1);
  socket.serverSends(event("class:2", 9));
  socket.serverSends(event("class:2", 10));
  socket.serverSends(event("class:2", 11));
  socket.serverSends({ type: "resumed", id: socket.sent[0].id, streams: {} });
  assert.deepEqual(seen, [8, 9, 10, 11]);
  assert.deepEqual(client.position("class:2"), { epoch: "e1", offset: 11 });
});

test("takes positions from the subscribed reply", () => {
  const { client, sockets } = setup();
  client.start();
  sockets[0].serverSends(hello);
  sockets[0].serverSends({
    type: "subscribed",
    streams: { "user:1": { epoch: "u", offset: 3 }, "class:2": { epoch: "c", offset: 0 } },
  });
  assert.deepEqual(client.position("user:1"), { epoch: "u", offset: 3 });
});

test("a reset moves the position and is reported", () => {
  const { client, sockets } = setup({ positions: { "class:2": { epoch: "old", offset: 50 } } });
  const resets = [];
  client.on("reset", (r) => resets.push(r));
  client.start();
  sockets[0].serverSends(hello);
  sockets[0].serverSends({ type: "reset", stream: "class:2", epoch: "e1", offset: 3, reason: "epoch" });
  assert.equal(resets.length, 1);
  assert.deepEqual(client.position("class:2"), { epoch: "e1", offset: 3 });
});

test("reconnects with full-jitter back-off and resumes from memory", () => {
  const { client, sockets, timers } = setup();
  client.start();
  sockets[0].serverSends(hello);
  sockets[0].serverSends({ type: "subscribed", streams: { "class:2": { epoch: "e1", offset: 1 } } });
  sockets[0].serverSends(event("class:2", 2));
  sockets[0].serverCloses(1006);
  assert.equal(client.state, "reconnecting");
  // random() = 0.5: 250 ms, then 500, 1000 ...
  assert.deepEqual(timers.pending(), [250]);
  timers.advance(250);
  assert.equal(sockets.length, 2);
  sockets[1].serverCloses(1006);
  assert.deepEqual(timers.pending(), [500]);
  timers.advance(500);
  sockets[2].serverSends(hello);
  const resume = sockets[2].sent.find((f) => f.type === "resume");
  assert.deepEqual(resume.streams, { "class:2": { epoch: "e1", offset: 2 } });
  // A successful hello resets the back-off.
  sockets[2].serverCloses(1006);
  assert.ok(timers.pending().includes(250));
});

test("the back-off is capped at 30 s", () => {
  const { client, sockets, timers } = setup({ random: () => 0.999999 });
  client.start();
  for (let i = 0; i < 12; i += 1) {
    sockets.at(-1).serverCloses(1006);
    const [delay] = timers.pending();
    assert.ok(delay <= 30000, `delay ${delay}`);
    timers.advance(delay);
  }
  assert.ok(timers.now > 0);
});

test("4401 goes to the login page without retrying", () => {
  const { client, sockets, timers, navigated } = setup({ loginUrl: "/login/" });
  client.start();
  sockets[0].serverCloses(4401);
  assert.equal(navigated.length, 1);
  assert.ok(navigated[0].startsWith("/login/"));
  assert.deepEqual(timers.pending(), []);
  assert.equal(client.state, "closed");
});

test("4403 checks the session once: 4401 then goes to the login page", () => {
  const { client, sockets, timers, navigated } = setup({ loginUrl: "/login/" });
  client.start();
  sockets[0].serverSends(hello);
  sockets[0].serverCloses(4403);
  assert.deepEqual(navigated, []);
  timers.advance(timers.pending()[0]);
  assert.equal(sockets.length, 2);
  sockets[1].serverCloses(4401);
  assert.equal(navigated.length, 1);
  assert.ok(navigated[0].startsWith("/login/"));
  assert.equal(client.state, "closed");
});

test("4403 on a session that lives on (its own password change) reconnects", () => {
  const { client, sockets, timers, navigated } = setup({ loginUrl: "/login/" });
  client.start();
  sockets[0].serverSends(hello);
  sockets[0].serverCloses(4403);
  timers.advance(timers.pending()[0]);
  sockets[1].serverSends(hello);
  assert.deepEqual(navigated, []);
  assert.equal(client.state, "connected");
  // A later 4403 (say, deactivated) is checked again, not taken as final.
  sockets[1].serverCloses(4403);
  timers.advance(timers.pending()[0]);
  sockets[2].serverCloses(4403);
  assert.equal(navigated.length, 1);
});

test("a missing pong closes the socket and reconnects", () => {
  const { client, sockets, timers } = setup();
  client.start();
  sockets[0].serverSends(hello);
  timers.advance(25000);
  assert.deepEqual(sockets[0].sent.at(-1).type, "ping");
  timers.advance(10000);
  assert.equal(sockets[0].closedWith, 4000);
  assert.equal(client.state, "reconnecting");
});

test("a pong keeps the socket open", () => {
  const { client, sockets, timers } = setup();
  client.start();
  sockets[0].serverSends(hello);
  timers.advance(25000);
  sockets[0].serverSends({ type: "pong", id: sockets[0].sent.at(-1).id });
  timers.advance(10000);
  assert.equal(sockets[0].closedWith, null);
});

test("offline closes; online reconnects at once", () => {
  const { client, sockets, win } = setup();
  const states = [];
  client.on("status", ({ state }) => states.push(state));
  client.start();
  sockets[0].serverSends(hello);
  win.dispatchEvent(new Event("offline"));
  assert.equal(sockets[0].closedWith, 1000);
  assert.equal(client.state, "offline");
  win.dispatchEvent(new Event("online"));
  assert.equal(sockets.length, 2);
  assert.deepEqual(states, ["connecting", "connected", "offline", "connecting"]);
});

test("a stream the server did not offer is asked alone", () => {
  const { client, sockets } = setup();
  client.follow("class:99");
  client.start();
  sockets[0].serverSends(hello);
  const frames = sockets[0].sent;
  assert.deepEqual(frames.at(-1).streams, ["class:99"]);
  sockets[0].serverSends({
    type: "error",
    code: "forbidden",
    message: "no such stream or not allowed: class:99",
    streams: ["class:99"],
  });
  assert.ok(!client.wanted.has("class:99"));
});

test("a stream the server drops is forgotten", () => {
  const { client, sockets } = setup({ positions: { "class:2": { epoch: "e1", offset: 1 } } });
  const dropped = [];
  client.on("unsubscribed", (frame) => dropped.push(...frame.streams));
  client.start();
  sockets[0].serverSends(hello);
  sockets[0].serverSends({ type: "unsubscribed", streams: ["class:2"], reason: "forbidden" });
  assert.deepEqual(dropped, ["class:2"]);
  assert.equal(client.position("class:2"), null);
  sockets[0].serverCloses(1006);
});

test("a follow frame refused for one stream is sent again without it", () => {
  const { client, sockets } = setup({
    positions: {
      "user:1": { epoch: "u", offset: 1 },
      "class:2": { epoch: "c", offset: 5 },
    },
  });
  client.start();
  sockets[0].serverSends(hello);
  const [resume] = sockets[0].sent;
  assert.equal(resume.type, "resume");
  sockets[0].serverSends({
    type: "error",
    id: resume.id,
    code: "forbidden",
    message: "no such stream or not allowed: class:2",
    streams: ["class:2"],
  });
  const retry = sockets[0].sent.at(-1);
  assert.equal(retry.type, "resume");
  assert.deepEqual(retry.streams, { "user:1": { epoch: "u", offset: 1 } });
  assert.equal(client.position("class:2"), null);
});

function fakeDocument(state) {
  const doc = new EventTarget();
  doc.visibilityState = state;
  doc.show = () => {
    doc.visibilityState = "visible";
    doc.dispatchEvent(new Event("visibilitychange"));
  };
  return doc;
}

test("reports events shown in a visible tab as seen, batched per stream", () => {
  const doc = fakeDocument("visible");
  const { client, sockets, timers } = setup({ document: doc });
  client.start();
  const socket = sockets[0];
  socket.serverSends(hello);
  socket.sent.length = 0;
  socket.serverSends(event("user:1", 1));
  socket.serverSends(event("user:1", 2));
  assert.deepEqual(socket.sent, []);
  timers.advance(300);
  assert.deepEqual(socket.sent, [{ type: "seen", stream: "user:1", offsets: [1, 2] }]);
  timers.advance(1000);
  assert.equal(socket.sent.length, 1);
});

test("events received in a hidden tab are reported when it becomes visible", () => {
  const doc = fakeDocument("hidden");
  const { client, sockets, timers } = setup({ document: doc });
  client.start();
  const socket = sockets[0];
  socket.serverSends(hello);
  socket.sent.length = 0;
  socket.serverSends(event("class:2", 1));
  timers.advance(5000);
  assert.deepEqual(socket.sent, []); // not seen: the push may go
  doc.show();
  assert.deepEqual(socket.sent, [{ type: "seen", stream: "class:2", offsets: [1] }]);
});

test("with no document (a worker, a test) nothing is reported", () => {
  const { client, sockets, timers } = setup({ document: null });
  client.start();
  sockets[0].serverSends(hello);
  sockets[0].sent.length = 0;
  sockets[0].serverSends(event("user:1", 1));
  timers.advance(1000);
  assert.deepEqual(sockets[0].sent, []);
});

for (const code of [4503, 1012]) test(`a server going away (${code}) is rejoined at once and resumed`, () => {
  const { client, sockets, timers } = setup();
  client.start();
  sockets[0].serverSends(hello);
  sockets[0].serverSends(event("user:1", 3));
  // Earlier failures had pushed the back-off up.
  client.attempt = 6;
  sockets[0].serverCloses(code);
  assert.ok(Math.max(...timers.pending()) < 500);
  timers.advance(500);
  assert.equal(sockets.length, 2);
  sockets[1].serverSends(hello);
  const resume = sockets[1].sent.find((f) => f.type === "resume");
  assert.deepEqual(resume.streams["user:1"], { epoch: "e1", offset: 3 });
});

test("4409 (too many sockets) waits half the back-off cap or more, every time", () => {
  // random() = 0 would make full jitter retry at once: a tight loop.
  const { client, sockets, timers, navigated } = setup({ random: () => 0 });
  client.start();
  for (let i = 0; i < 5; i += 1) {
    sockets.at(-1).serverCloses(4409);
    const [delay] = timers.pending();
    assert.ok(delay >= 15000 && delay <= 30000, `delay ${delay}`);
    timers.advance(delay);
  }
  assert.equal(sockets.length, 6);
  assert.equal(client.state, "connecting");
  assert.deepEqual(navigated, []);
  // Once a socket is in, the back-off starts over.
  sockets.at(-1).serverSends(hello);
  sockets.at(-1).serverCloses(1006);
  assert.deepEqual(timers.pending(), [0]);
});
