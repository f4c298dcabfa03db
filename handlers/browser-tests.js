// Browser checks against the example handlers (/echo, /close) of the server that served this page.
// Each check resolves with a detail string or throws; results land in window.testResults.
"use strict";

const BASE = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}`;
const TIMEOUT_MS = 15000;
window.testResults = [];
window.testsDone = false;

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function connect(path, protocols) {
  const ws = new WebSocket(BASE + path, protocols);
  ws.binaryType = "arraybuffer";
  return withTimeout(new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`error event while connecting to ${path}`));
    ws.onclose = (e) => reject(new Error(`closed while connecting to ${path}: ${e.code}`));
  }), `open ${path}`);
}

function nextMessage(ws) {
  return withTimeout(new Promise((resolve, reject) => {
    ws.onmessage = (e) => resolve(e.data);
    ws.onclose = (e) => reject(new Error(`closed (${e.code} ${e.reason}) while waiting for a message`));
  }), "message");
}

function closed(ws) {
  return withTimeout(new Promise((resolve) => { ws.onclose = resolve; }), "close");
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function sameBytes(a, b) {
  const x = new Uint8Array(a), y = new Uint8Array(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function randomBytes(n) {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(n, i + 65536)));
  return bytes;
}

const checks = {
  async open() {
    const ws = await connect("/echo");
    assert(ws.readyState === WebSocket.OPEN, `readyState ${ws.readyState}`);
    ws.close();
    return `open at ${ws.url}`;
  },

  async text_echo() {
    const ws = await connect("/echo");
    const text = "héllo wörld ✓ " + "🙂".repeat(3);
    ws.send(text);
    const reply = await nextMessage(ws);
    ws.close();
    assert(reply === text, `got ${JSON.stringify(reply)}`);
    return `${text.length} characters`;
  },

  async arraybuffer_echo() {
    const ws = await connect("/echo");
    const bytes = randomBytes(1000);
    ws.send(bytes.buffer);
    const reply = await nextMessage(ws);
    ws.close();
    assert(reply instanceof ArrayBuffer, `got ${typeof reply}`);
    assert(sameBytes(reply, bytes.buffer), "bytes differ");
    return "1000 bytes";
  },

  async blob_echo() {
    const ws = await connect("/echo");
    ws.binaryType = "blob";
    const bytes = randomBytes(5000);
    ws.send(new Blob([bytes]));
    const reply = await nextMessage(ws);
    ws.close();
    assert(reply instanceof Blob, `got ${Object.prototype.toString.call(reply)}`);
    assert(sameBytes(await reply.arrayBuffer(), bytes.buffer), "bytes differ");
    return "5000 bytes as a Blob";
  },

  async one_mib_echo() {
    const ws = await connect("/echo");
    const bytes = randomBytes(1 << 20);
    ws.send(bytes.buffer);
    const reply = await nextMessage(ws);
    ws.close();
    assert(sameBytes(reply, bytes.buffer), `got ${reply.byteLength} bytes, or different ones`);
    return "1 MiB";
  },

  async subprotocol() {
    const ws = await connect("/echo", ["chat.v2", "chat.v1"]);
    ws.close();
    assert(ws.protocol === "chat.v2", `protocol ${JSON.stringify(ws.protocol)}`);
    return `protocol ${ws.protocol}`;
  },

  async permessage_deflate() {
    const ws = await connect("/echo");
    const text = "compress me ".repeat(10000);
    ws.send(text);
    const reply = await nextMessage(ws);
    ws.close();
    assert(ws.extensions.includes("permessage-deflate"), `extensions ${JSON.stringify(ws.extensions)}`);
    assert(reply === text, "echo differs");
    return `extensions "${ws.extensions}"`;
  },

  async client_close() {
    const ws = await connect("/echo");
    const done = closed(ws);
    ws.close(4000, "client bye");
    const e = await done;
    assert(e.code === 4000 && e.reason === "client bye" && e.wasClean,
      `code ${e.code}, reason ${JSON.stringify(e.reason)}, clean ${e.wasClean}`);
    return `${e.code} "${e.reason}" clean`;
  },

  async server_close() {
    const ws = await connect("/close");
    const done = closed(ws);
    ws.send("4001 server bye");
    const e = await done;
    assert(e.code === 4001 && e.reason === "server bye" && e.wasClean,
      `code ${e.code}, reason ${JSON.stringify(e.reason)}, clean ${e.wasClean}`);
    return `${e.code} "${e.reason}" clean`;
  },

  async rejected_handshake() {
    const ws = new WebSocket(BASE + "/no-such-handler");
    const events = [];
    await withTimeout(new Promise((resolve) => {
      ws.onopen = () => events.push("open");
      ws.onerror = () => events.push("error");
      ws.onclose = (e) => { events.push(`close ${e.code} ${e.wasClean}`); resolve(); };
    }), "rejection");
    assert(events.join(",") === "error,close 1006 false", `events ${events.join(",")}`);
    return events.join(", ");
  },
};

async function run() {
  document.getElementById("base").textContent = BASE;
  const only = new URLSearchParams(location.search).get("only");
  const body = document.getElementById("results");
  for (const [name, check] of Object.entries(checks)) {
    if (only && !only.split(",").includes(name)) continue;
    const row = body.insertRow();
    row.insertCell().textContent = name;
    const status = row.insertCell();
    const detail = row.insertCell();
    status.textContent = "running";
    status.className = "run";
    const result = { name, pass: false, detail: "" };
    try {
      result.detail = await check();
      result.pass = true;
    } catch (e) {
      result.detail = String(e && e.message || e);
    }
    status.textContent = result.pass ? "pass" : "FAIL";
    status.className = result.pass ? "pass" : "fail";
    detail.textContent = result.detail;
    window.testResults.push(result);
    console.log(`${result.pass ? "pass" : "FAIL"} ${name}: ${result.detail}`);
  }
  window.testsDone = true;
}

run();
