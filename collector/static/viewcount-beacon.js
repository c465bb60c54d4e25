// viewcount-beacon.js: send view events from a browser player to the viewcount collector
// (CONTRACT §8). No dependencies; load it with a script tag, then use window.ViewcountBeacon.
//
//   const beacon = new ViewcountBeacon({ collector: "https://collect.example.com", writeKey: "wk_…" });
//   beacon.view({ video_id, creator_id, viewer_id, watch_ms });   // event_id and event_time filled in
//
// Events are queued and sent in batches as NDJSON in a `text/plain` body with the key in the query
// string: a CORS "simple" request, so no preflight (the collector's COLLECTOR_ALLOWED_ORIGINS must
// list the page's origin for the answer to be readable). A batch goes when it is full or
// `flushMs` after its first event. A batch that fails for a reason that may pass (no network,
// 429, 5xx, 503 with Retry-After) is kept and sent again with exponential backoff and jitter; one
// the collector refuses for good (400, 401, 413, 415) is dropped with a console warning. When the
// page is hidden or left, what is queued goes with navigator.sendBeacon, which outlives the page.
// A batch sent twice is harmless: the pipeline counts an event id once.
"use strict";

(function (root) {
  const MAX_EVENTS = 1000;            // per request (CONTRACT §8)
  const BEACON_BYTES = 60 * 1024;     // browsers cap a page's pending beacons near 64 KiB
  const FOR_GOOD = new Set([400, 401, 413, 415]);

  class ViewcountBeacon {
    constructor({ collector, writeKey, batchSize = 50, flushMs = 2000, minBackoffMs = 500, maxBackoffMs = 30000 }) {
      if (!collector || !writeKey) throw new Error("ViewcountBeacon needs collector and writeKey");
      this.url = `${collector.replace(/\/+$/, "")}/v1/events?key=${encodeURIComponent(writeKey)}`;
      this.batchSize = Math.min(Math.max(1, batchSize), MAX_EVENTS);
      this.flushMs = flushMs;
      this.minBackoffMs = minBackoffMs;
      this.maxBackoffMs = maxBackoffMs;
      this.queue = [];                 // NDJSON lines not yet acknowledged
      this.sending = false;
      this.timer = null;
      this.failures = 0;
      this.stats = { queued: 0, acknowledged: 0, retried: 0, dropped: 0, beaconed: 0 };
      const leave = () => this.sendBeaconNow();
      root.addEventListener?.("pagehide", leave);
      root.document?.addEventListener?.("visibilitychange", () => {
        if (root.document.visibilityState === "hidden") leave();
      });
    }

    /** Queue one view; missing event_id and event_time are filled in. Returns the event id. */
    view(event) {
      const full = { event_id: ViewcountBeacon.eventId(), event_time: new Date().toISOString(), ...event };
      this.queue.push(JSON.stringify(full));
      this.stats.queued += 1;
      if (this.queue.length >= this.batchSize) this.flush();
      else this.schedule(this.flushMs);
      return full.event_id;
    }

    /** How many events are waiting (queued or in flight). */
    get pending() {
      return this.queue.length;
    }

    schedule(delayMs) {
      if (this.timer === null) this.timer = setTimeout(() => { this.timer = null; this.flush(); }, delayMs);
    }

    async flush() {
      if (this.sending || this.queue.length === 0) return;
      clearTimeout(this.timer);
      this.timer = null;
      this.sending = true;
      const batch = this.queue.slice(0, this.batchSize);
      let retryAfterMs = null;
      try {
        const answer = await fetch(this.url, {
          method: "POST", body: batch.join("\n"), headers: { "Content-Type": "text/plain" }, keepalive: true,
        });
        if (answer.status === 202) {
          this.settle(batch);
          this.stats.acknowledged += batch.length;
        } else if (FOR_GOOD.has(answer.status)) {
          this.settle(batch);
          this.stats.dropped += batch.length;
          console.warn(`viewcount: the collector refused ${batch.length} events (${answer.status}); dropped`);
        } else {
          retryAfterMs = Number(answer.headers.get("Retry-After")) * 1000 || null;
          throw new Error(`the collector answered ${answer.status}`);
        }
      } catch (e) {
        this.failures += 1;
        this.stats.retried += 1;
        const backoff = Math.min(this.maxBackoffMs, this.minBackoffMs * 2 ** (this.failures - 1));
        this.sending = false;
        this.schedule(Math.max(retryAfterMs || 0, backoff / 2 + Math.random() * backoff / 2));
        return;
      }
      this.sending = false;
      if (this.queue.length >= this.batchSize) this.flush();
      else if (this.queue.length) this.schedule(this.flushMs);
    }

    settle(batch) {
      // By identity, not position: a page hide may have beaconed the queue while this batch was in
      // flight. Lines are unique (each holds its event id).
      const done = new Set(batch);
      this.queue = this.queue.filter((line) => !done.has(line));
      this.failures = 0;
    }

    /** Hand everything queued to navigator.sendBeacon (the page is going away). */
    sendBeaconNow() {
      const send = root.navigator?.sendBeacon?.bind(root.navigator);
      if (!send) return;
      while (this.queue.length) {
        let size = 0;
        let count = 0;
        while (count < this.queue.length && count < MAX_EVENTS && size + this.queue[count].length + 1 <= BEACON_BYTES) {
          size += this.queue[count].length + 1;
          count += 1;
        }
        count = Math.max(count, 1);
        const body = new Blob([this.queue.slice(0, count).join("\n")], { type: "text/plain" });
        if (!send(this.url, body)) return;   // the browser's beacon budget is spent; fetch retries later
        this.queue.splice(0, count);
        this.stats.beaconed += count;
      }
    }

    static eventId() {
      if (root.crypto?.randomUUID) return root.crypto.randomUUID();
      const bytes = root.crypto.getRandomValues(new Uint8Array(16));
      return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    }
  }

  root.ViewcountBeacon = ViewcountBeacon;
})(typeof window !== "undefined" ? window : globalThis);
