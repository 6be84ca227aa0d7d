// The approval page: reads the token from the link's fragment (which no server ever receives),
// shows the order, and on a click sends the decision. Loading the page decides nothing.
"use strict";

const base = window.location.pathname.replace(/\/+$/, "");
const token = decodeURIComponent(window.location.hash.slice(1));
// Out of the address bar and the history entry; the page keeps it in memory only.
window.history.replaceState(null, "", base);

const $ = (id) => document.getElementById(id);

function say(text) {
  $("status").textContent = text;
}

function show(outcome) {
  const element = $("outcome");
  element.textContent = outcome;
  element.hidden = false;
}

async function post(path, body) {
  const response = await fetch(`${base}/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  let answer = {};
  try {
    answer = await response.json();
  } catch (_) {
    answer = {};
  }
  return { status: response.status, answer };
}

function money(cents, currency) {
  return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
}

function duration(seconds) {
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const parts = [];
  if (days) parts.push(`${days} day${days === 1 ? "" : "s"}`);
  if (hours) parts.push(`${hours} hour${hours === 1 ? "" : "s"}`);
  if (!days && minutes) parts.push(`${minutes} minute${minutes === 1 ? "" : "s"}`);
  return parts.length ? parts.join(" ") : "less than a minute";
}

function refusal(status, answer) {
  if (status === 401) return "This link is not valid or has expired. Nothing was changed.";
  return answer.detail || `The app answered ${status}. Nothing was changed.`;
}

function render(summary) {
  $("order-id").textContent = summary.order_id;
  $("amount").textContent = money(summary.total_cents, summary.currency);
  $("why").textContent = `${summary.why} The threshold is ${money(summary.threshold_cents, summary.currency)}.`;
  $("time-left").textContent = duration(summary.seconds_left);
  $("approver").textContent = summary.approver;
  const rows = $("lines");
  rows.replaceChildren();
  for (const line of summary.lines) {
    const row = document.createElement("tr");
    for (const value of [line.sku, String(line.quantity), money(line.unit_price_cents, summary.currency)]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.append(cell);
    }
    rows.append(row);
  }
  $("order").hidden = false;
}

async function decide(approved) {
  for (const button of document.querySelectorAll("button")) button.disabled = true;
  say(approved ? "Sending your approval…" : "Sending your rejection…");
  const reason = $("reason").value.trim();
  const body = reason ? { token, approved, reason } : { token, approved };
  const { status, answer } = await post("decision", body);
  $("decide").hidden = true;
  say("");
  if (status === 202) {
    show(approved ? "Approved. The order goes on to shipping." : "Rejected. The order will be undone and the customer refunded.");
  } else {
    show(refusal(status, answer));
  }
}

async function start() {
  if (!token) {
    say("This link is incomplete: open the whole link from the message you received.");
    return;
  }
  const { status, answer } = await post("summary", { token });
  if (status !== 200) {
    say(refusal(status, answer));
    return;
  }
  render(answer);
  if (!answer.awaiting_decision) {
    say(answer.decision ? `This order was already ${answer.decision}. Nothing more to do.` : "This order no longer waits for a decision.");
    return;
  }
  say("Decide below.");
  const form = $("decide");
  form.hidden = false;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    decide(event.submitter && event.submitter.id === "approve");
  });
}

// Another link pasted into this tab only changes the fragment: load the page for it.
window.addEventListener("hashchange", () => window.location.reload());
start();
