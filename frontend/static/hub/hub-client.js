// The hub client: one WebSocket per page, gap-free streams (docs/protocol.md).
//
// The client keeps, per stream, the last offset it delivered. On (re)connect
// it sends `resume` with those positions, so the server replays what was
// missed, and `subscribe` for the streams it has no position for. An event at
// or below the last offset is a duplicate and is ignored; one above
// `last + 1` means a gap: the client asks the server to `resume` from `last`
// and drops the early event (it comes again, in order).
//
//   import { hub } from "./hub-client.js";
//   hub.on("timetable.occurrence", (event) => ...);   // one kind
//   hub.on("event", (event) => ...);                  // every event
//   hub.on("reset", ({ stream, epoch, offset, reason }) => ...);
//   hub.on("status", ({ state }) => ...);  // connecting|connected|reconnecting|offline|closed
//   hub.on("typing", ({ conversation, user, name }) => ...);  // ephemeral frames
//   hub.send({ type: "typing", conversation: 12 });  // false when not connected
//   hub.follow("class:12");
//   hub.start({ positions, loginUrl });

export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_SESSION_ENDED = 4403;
export const CLOSE_TOO_BIG = 4413;
export const CLOSE_TOO_SLOW = 4408; // did not read fast enough: resume
export const CLOSE_TOO_MANY_SOCKETS = 4409; // this user's (or address's) sockets are at the cap
export const CLOSE_GOING_AWAY = 4503; // that server process is stopping: resume elsewhere
export const CLOSE_SERVICE_RESTART = 1012; // RFC 6455 §7.4 registry: the server restarts
const CLOSE_NO_PONG = 4000;
const MAX_STREAMS_PER_FRAME = 200;

function defaultUrl() {
  const scheme = globalThis.location?.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${globalThis.location?.host}/ws/`;
}

function chunks(items, size) {
  const out = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class HubClient {
  /**
   * Options (all optional, for tests and special pages):
   * url, positions ({stream: {epoch, offset}}), loginUrl,
   * baseDelay (ms, 500), maxDelay (ms, 30000), pongTimeout (ms, 10000),
   * WebSocket (constructor), random (() => [0, 1)), timers ({setTimeout,
   * clearTimeout, setInterval, clearInterval}), window (for online/offline),
   * document (for visibility: events shown in a visible tab are reported
   * `seen`, so no push goes out for them), seenDelay (ms, 300),
   * navigate ((url) => void).
   */
  constructor(options = {}) {
    this.options = {
      baseDelay: 500,
      maxDelay: 30000,
      pongTimeout: 10000,
      random: Math.random,
      ...options,
    };
    this.url = options.url || null;
    this.loginUrl = options.loginUrl || "/login/";
    this.positions = new Map();
    this.wanted = new Set();
    this.readable = null;
    this.listeners = new Map();
    this.socket = null;
    this.state = "idle";
    this.attempt = 0;
    this.checkingSession = false; // after a 4403, until the next hello
    this.started = false;
    this.stopped = false;
    this.reconnectTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.pingId = 0;
    this.gapFills = new Set();
    this.frameId = 0;
    this.inFlight = new Map(); // frame id -> the names a follow frame asked for
    this.unseen = new Map(); // stream -> offsets received, not yet reported seen
    this.seenTimer = null;
    this.onOnline = () => this.reconnectNow();
    this.onOffline = () => this.goOffline();
    this.onVisibility = () => this.reportSeen();
    if (options.positions) this.setPositions(options.positions);
  }

  get timers() {
    return this.options.timers || globalThis;
  }

  // Listeners ---------------------------------------------------------------

  /** Call `fn(payload)` for `name`: an event kind, "event", "reset",
   * "status", "hello", "unsubscribed", "error", "bye" or "typing". Returns a function
   * that removes it. */
  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
    return () => this.off(name, fn);
  }

  off(name, fn) {
    this.listeners.get(name)?.delete(fn);
  }

  emit(name, payload) {
    for (const fn of [...(this.listeners.get(name) || [])]) {
      try {
        fn(payload);
      } catch (error) {
        console.error(`hub listener for ${name} failed`, error);
      }
    }
  }

  // Streams -----------------------------------------------------------------

  /** Merge `{stream: {epoch, offset}}` into the known positions. */
  setPositions(positions) {
    for (const [name, position] of Object.entries(positions || {})) {
      if (position && typeof position.epoch === "string" && Number.isInteger(position.offset)) {
        this.positions.set(name, { epoch: position.epoch, offset: position.offset });
      }
    }
  }

  /** Return `{epoch, offset}` of the last event delivered on `stream`, or null. */
  position(stream) {
    const position = this.positions.get(stream);
    return position ? { ...position } : null;
  }

  /** Follow `streams` (names) in addition to those the server offers. */
  follow(...streams) {
    const fresh = streams.flat().filter((name) => !this.wanted.has(name));
    for (const name of fresh) this.wanted.add(name);
    if (fresh.length && this.state === "connected") this.join(fresh);
  }

  // Connection --------------------------------------------------------------

  /** Connect (once); `options` may carry `positions` and `loginUrl`. */
  start(options = {}) {
    if (options.positions) this.setPositions(options.positions);
    if (options.loginUrl) this.loginUrl = options.loginUrl;
    if (options.url) this.url = options.url;
    if (this.started) return this;
    this.started = true;
    this.stopped = false;
    const win = this.options.window || globalThis.window;
    win?.addEventListener?.("online", this.onOnline);
    win?.addEventListener?.("offline", this.onOffline);
    this.doc?.addEventListener?.("visibilitychange", this.onVisibility);
    this.connect();
    return this;
  }

  /** Close for good (no reconnect). */
  stop() {
    this.stopped = true;
    this.started = false;
    const win = this.options.window || globalThis.window;
    win?.removeEventListener?.("online", this.onOnline);
    win?.removeEventListener?.("offline", this.onOffline);
    this.doc?.removeEventListener?.("visibilitychange", this.onVisibility);
    this.clearTimers();
    this.closeSocket(1000);
    this.setState("closed");
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("status", { state });
  }

  connect() {
    if (this.stopped) return;
    this.clearTimers();
    const Impl = this.options.WebSocket || globalThis.WebSocket;
    if (globalThis.navigator?.onLine === false) this.setState("offline");
    else this.setState(this.attempt === 0 ? "connecting" : "reconnecting");
    let socket;
    try {
      socket = new Impl(this.url || defaultUrl());
    } catch (error) {
      console.error("hub: cannot open the socket", error);
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onmessage = (message) => {
      if (socket === this.socket) this.receive(message.data);
    };
    socket.onclose = (close) => {
      if (socket === this.socket) this.closed(close.code);
    };
    socket.onerror = () => {};
  }

  closeSocket(code) {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onmessage = null;
    socket.onclose = null;
    try {
      socket.close(code);
    } catch {
      // Already closed.
    }
  }

  closed(code) {
    this.socket = null;
    this.clearTimers();
    this.gapFills.clear();
    this.inFlight.clear();
    // 4403 ends the sockets of a user whose password changed or who was
    // deactivated, but the session of this page may live on: the password
    // was changed from it (Django keeps that session). Reconnect once: the
    // server answers 4401 if the session is over, and only then the login
    // page (navigating at once lost the password-change page's own answer).
    if (code === CLOSE_SESSION_ENDED && !this.checkingSession) {
      this.checkingSession = true;
      this.attempt = 0;
      this.scheduleReconnect();
      return;
    }
    if (code === CLOSE_UNAUTHENTICATED || code === CLOSE_SESSION_ENDED) {
      this.stopped = true;
      this.setState("closed");
      this.goToLogin();
      return;
    }
    // Too many sockets of this user (other tabs) or of this address are open
    // on that server: never retry soon. Wait between half the cap and the
    // cap (15-30 s), every time, until a socket gets in (hello).
    if (code === CLOSE_TOO_MANY_SOCKETS) {
      this.scheduleReconnect(this.options.maxDelay / 2);
      return;
    }
    // A process going away is not a failure: come back at once (within one
    // base delay, spread at random so thousands of sockets do not stampede).
    if (code === CLOSE_GOING_AWAY || code === CLOSE_SERVICE_RESTART) this.attempt = 0;
    this.scheduleReconnect();
  }

  goToLogin() {
    const loc = globalThis.location;
    const next = loc ? `?next=${encodeURIComponent(loc.pathname + loc.search)}` : "";
    const navigate = this.options.navigate || ((url) => globalThis.location.assign(url));
    navigate(this.loginUrl + next);
  }

  /** Full jitter: a random delay in [0, min(cap, base * 2^attempt)). */
  nextDelay() {
    const { baseDelay, maxDelay, random } = this.options;
    const ceiling = Math.min(maxDelay, baseDelay * 2 ** this.attempt);
    this.attempt += 1;
    return Math.floor(random() * ceiling);
  }

  /** Reconnect after the back-off; ``floor``: wait at least this long
   * (plus up to as much again, at random). */
  scheduleReconnect(floor = 0) {
    if (this.stopped) return;
    const offline = globalThis.navigator?.onLine === false;
    this.setState(offline ? "offline" : "reconnecting");
    const delay = floor
      ? floor + Math.floor(this.options.random() * floor)
      : this.nextDelay();
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  reconnectNow() {
    if (this.stopped || !this.started) return;
    if (this.socket && this.state === "connected") return;
    this.closeSocket(1000);
    this.attempt = 0;
    this.connect();
  }

  goOffline() {
    if (this.stopped) return;
    this.closeSocket(1000);
    this.clearTimers();
    this.setState("offline");
    // Still retry with back-off: "offline" events are not always followed by "online".
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, this.nextDelay());
  }

  clearTimers() {
    if (this.seenTimer !== null) this.timers.clearTimeout(this.seenTimer);
    this.seenTimer = null;
    const t = this.timers;
    if (this.reconnectTimer !== null) t.clearTimeout(this.reconnectTimer);
    if (this.pingTimer !== null) t.clearInterval(this.pingTimer);
    if (this.pongTimer !== null) t.clearTimeout(this.pongTimer);
    this.reconnectTimer = this.pingTimer = this.pongTimer = null;
  }

  /** Send `frame` (an object) on the socket; return false when not connected. */
  send(frame) {
    if (!this.socket || this.socket.readyState !== 1) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  // Heartbeat ---------------------------------------------------------------

  startHeartbeat(seconds) {
    const t = this.timers;
    if (this.pingTimer !== null) t.clearInterval(this.pingTimer);
    const every = Math.max(1, Number(seconds) || 25) * 1000;
    this.pingTimer = t.setInterval(() => this.ping(), every);
  }

  ping() {
    if (this.pongTimer !== null) return;
    this.pingId += 1;
    if (!this.send({ type: "ping", id: `p${this.pingId}` })) return;
    this.pongTimer = this.timers.setTimeout(() => {
      this.pongTimer = null;
      // No pong: the connection is dead even if the browser has not noticed.
      const socket = this.socket;
      this.closeSocket(CLOSE_NO_PONG);
      if (socket) this.closed(CLOSE_NO_PONG);
    }, this.options.pongTimeout);
  }

  // Frames from the server --------------------------------------------------

  receive(raw) {
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== "string") return;
    switch (frame.type) {
      case "hello":
        return this.onHello(frame);
      case "event":
        return this.onEvent(frame);
      case "reset":
        return this.onReset(frame);
      case "subscribed":
      case "resumed":
        return this.onFollowed(frame);
      case "pong":
        if (this.pongTimer !== null) this.timers.clearTimeout(this.pongTimer);
        this.pongTimer = null;
        return;
      case "error":
        if (frame.code === "forbidden") this.onForbidden(frame);
        return this.emit("error", frame);
      case "unsubscribed":
        return this.onUnsubscribed(frame);
      case "bye":
        return this.emit("bye", frame);
      case "typing":
        // Ephemeral: relayed as it comes, never stored, no offset.
        return this.emit("typing", frame);
      default:
        return;
    }
  }

  onHello(frame) {
    this.attempt = 0;
    this.checkingSession = false;
    this.readable = new Set(Array.isArray(frame.streams) ? frame.streams : []);
    this.startHeartbeat(frame.heartbeat);
    this.setState("connected");
    this.emit("hello", frame);
    // Offered streams first; then those a page asked for that the server did not offer.
    const names = [...new Set([...this.readable, ...this.wanted])];
    this.join(names);
  }

  /** Send `resume` for streams with a position and `subscribe` for the others. */
  join(names) {
    const offered = names.filter((name) => !this.readable || this.readable.has(name));
    const resume = offered.filter((name) => this.positions.has(name));
    const subscribe = offered.filter((name) => !this.positions.has(name));
    for (const part of chunks(resume, MAX_STREAMS_PER_FRAME)) this.sendFollow(part);
    for (const part of chunks(subscribe, MAX_STREAMS_PER_FRAME)) this.sendFollow(part);
    // A stream the server did not offer may be refused: ask alone so it cannot
    // make the others fail.
    for (const name of names.filter((n) => this.readable && !this.readable.has(n))) {
      this.sendFollow([name]);
    }
  }

  /** Send `resume` (all have positions) or `subscribe` (none has) for `names`. */
  sendFollow(names) {
    if (!names.length) return;
    const id = this.nextId();
    this.inFlight.set(id, names);
    if (this.positions.has(names[0])) {
      const streams = Object.fromEntries(names.map((name) => [name, this.position(name)]));
      this.send({ type: "resume", id, streams });
    } else {
      this.send({ type: "subscribe", id, streams: names });
    }
  }

  nextId() {
    this.frameId += 1;
    return `f${this.frameId}`;
  }

  onFollowed(frame) {
    this.inFlight.delete(frame.id);
    for (const [name, position] of Object.entries(frame.streams || {})) {
      this.gapFills.delete(name);
      const known = this.positions.get(name);
      if (!known && position && typeof position.epoch === "string") {
        this.positions.set(name, { epoch: position.epoch, offset: position.offset });
      }
    }
  }

  onForbidden(frame) {
    // Forget the stream the server refuses, so reconnecting does not ask again,
    // and ask again for the others of that frame (it was refused as a whole).
    const refused = new Set(Array.isArray(frame.streams) ? frame.streams : []);
    for (const name of refused) {
      this.wanted.delete(name);
      this.positions.delete(name);
      this.readable?.delete(name);
    }
    const asked = this.inFlight.get(frame.id);
    this.inFlight.delete(frame.id);
    if (asked && asked.some((name) => refused.has(name))) {
      const rest = asked.filter((name) => !refused.has(name));
      this.sendFollow(rest.filter((name) => this.positions.has(name)));
      this.sendFollow(rest.filter((name) => !this.positions.has(name)));
    }
  }

  onUnsubscribed(frame) {
    // The server dropped streams the user may no longer read (or we asked).
    for (const name of Array.isArray(frame.streams) ? frame.streams : []) {
      this.positions.delete(name);
      this.wanted.delete(name);
      this.readable?.delete(name);
      this.gapFills.delete(name);
    }
    this.emit("unsubscribed", frame);
  }

  onEvent(event) {
    const known = this.positions.get(event.stream);
    if (known && known.epoch === event.epoch) {
      if (event.offset <= known.offset) return; // duplicate
      if (event.offset > known.offset + 1) {
        this.fillGap(event.stream, known);
        return; // comes again, in order
      }
    } else if (known) {
      // Another epoch: let the server decide (it answers `reset`).
      this.fillGap(event.stream, known);
      return;
    }
    this.positions.set(event.stream, { epoch: event.epoch, offset: event.offset });
    this.emit(event.kind, event);
    this.emit("event", event);
    this.noteShown(event);
  }

  // Seen: no push for what an open tab already showed ------------------------

  get doc() {
    return "document" in this.options ? this.options.document : globalThis.document;
  }

  visible() {
    return this.doc?.visibilityState === "visible";
  }

  /** Remember `event`; report it within `seenDelay` ms if the tab is visible. */
  noteShown(event) {
    const offsets = this.unseen.get(event.stream) || [];
    offsets.push(event.offset);
    this.unseen.set(event.stream, offsets.slice(-500));
    if (this.visible() && this.seenTimer === null) {
      this.seenTimer = this.timers.setTimeout(() => {
        this.seenTimer = null;
        this.reportSeen();
      }, this.options.seenDelay ?? 300);
    }
  }

  /** Send one `seen` frame per stream for the events shown while visible. */
  reportSeen() {
    if (!this.visible() || this.unseen.size === 0) return;
    for (const [stream, offsets] of this.unseen) {
      if (!this.send({ type: "seen", stream, offsets })) return; // offline: keep them
      this.unseen.delete(stream);
    }
  }

  fillGap(stream, known) {
    if (this.gapFills.has(stream)) return;
    this.gapFills.add(stream);
    this.send({ type: "resume", id: this.nextId(), streams: { [stream]: { ...known } } });
  }

  onReset(frame) {
    this.gapFills.delete(frame.stream);
    this.positions.set(frame.stream, { epoch: frame.epoch, offset: frame.offset });
    this.emit("reset", frame);
  }
}

/** The one client of the page, started by page.js. */
export const hub = new HubClient();
