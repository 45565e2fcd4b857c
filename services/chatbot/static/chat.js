// The chat page: sends each question to POST /predict with fetch, keeps the
// conversation in localStorage, and shows errors in the page instead of hanging.
(function () {
  "use strict";
  const STORE = "modelchain.chat.v1";
  const TIMEOUT_MS = 15000;
  const list = document.getElementById("messages");
  const form = document.getElementById("composer");
  const input = document.getElementById("question");
  const send = document.getElementById("send");
  const status = document.getElementById("status");
  let history = load();

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE)) || []; } catch (e) { return []; }
  }

  function save() {
    try { localStorage.setItem(STORE, JSON.stringify(history.slice(-200))); } catch (e) { /* full or disabled: keep going */ }
  }

  function render(message) {
    const item = document.createElement("li");
    item.className = "msg msg--" + message.role + (message.abstained ? " msg--abstain" : "");
    item.textContent = message.text;  // textContent: answers are never parsed as HTML
    if (message.meta) {
      const meta = document.createElement("span");
      meta.className = "msg__meta";
      meta.textContent = message.meta;
      item.appendChild(meta);
    }
    list.appendChild(item);
    list.scrollTop = list.scrollHeight;
    return item;
  }

  function add(message) {
    history.push(message);
    save();
    return render(message);
  }

  function setPending(pending) {
    input.disabled = pending;
    send.disabled = pending;
    form.setAttribute("aria-busy", String(pending));
    status.textContent = pending ? "Waiting for the assistant…" : "";
  }

  async function ask(question) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      const response = await fetch("predict", {
        method: "POST", signal: controller.signal,
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ question: question, session_id: sessionId() }),
      });
      const body = await response.json().catch(() => null);
      if (!response.ok || !body || !body.result) {
        const message = body && body.error ? body.error.message : "HTTP " + response.status;
        throw new Error(message);
      }
      return body.result;
    } finally {
      clearTimeout(timer);
    }
  }

  function sessionId() {
    let id = localStorage.getItem(STORE + ".session");
    if (!id) {
      id = Math.random().toString(36).slice(2) + Date.now().toString(36);
      try { localStorage.setItem(STORE + ".session", id); } catch (e) { /* ignore */ }
    }
    return id;
  }

  // The reply sentence is what the assistant says; the exact span and the confidence go
  // underneath. An abstention ("the desk's information doesn't say") is marked as such.
  function botMessage(result) {
    const percent = Math.round((result.confidence || 0) * 100) + "%";
    if (result.answerable === false || result.answer === null) {
      return { role: "bot", abstained: true, text: result.reply || "Sorry, I don't know.",
               meta: "not in the desk's information · " + percent + " sure" };
    }
    return { role: "bot", text: result.reply || result.answer,
             meta: "answer: " + result.answer + " · confidence " + percent };
  }

  function describe(error) {
    if (error.name === "AbortError") return "The assistant took too long to answer. Please try again.";
    if (error instanceof TypeError) return "Could not reach the assistant. Check your connection and try again.";
    return "Sorry, something went wrong: " + error.message;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question || send.disabled) return;
    add({ role: "user", text: question });
    input.value = "";
    setPending(true);
    const pending = render({ role: "pending", text: "…" });
    try {
      add(botMessage(await ask(question)));
    } catch (error) {
      add({ role: "error", text: describe(error) });
    } finally {
      pending.remove();
      setPending(false);
      input.focus();
    }
  });

  document.getElementById("clear").addEventListener("click", () => {
    history = [];
    save();
    list.replaceChildren();
    input.focus();
  });

  // The server's own limit and what the desk knows, from GET metadata.
  async function describeDesk() {
    try {
      const response = await fetch("metadata", { headers: { "Accept": "application/json" } });
      const meta = await response.json();
      const limit = meta.input_schema.properties.question.maxLength;
      if (limit) input.maxLength = limit;
      const desk = meta.desk || {};
      const topics = (desk.topics || []).map((t) => t.toLowerCase());
      document.getElementById("greeting").textContent = (desk.welcome || "Hello.") +
        (topics.length ? " Ask me about " + topics.slice(0, -1).join(", ") +
          (topics.length > 1 ? " or " : "") + topics[topics.length - 1] + "." : "");
    } catch (e) { /* the page still works with the defaults in the HTML */ }
  }

  history.forEach(render);
  describeDesk();
})();
