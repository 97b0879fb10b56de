/**
 * `/widget.js`: the chat widget a shop puts on its site with one tag,
 * `<script src="https://api.example.com/widget.js" data-key="pk_..." async></script>`.
 * No framework: a button opens a panel; each message is a POST to `/v1/widget/chat/stream` with
 * the publishable key, and the SSE answer is read from the response body (EventSource cannot
 * POST). The visitor id and the conversation id stay in the browser's localStorage, so a visitor
 * who comes back continues their conversation. While staff have taken the conversation over, the
 * widget polls `GET /v1/widget/conversations/{id}` for their replies.
 */
export const WIDGET_SCRIPT = String.raw`(function () {
  "use strict";
  var tag = document.currentScript;
  if (!tag || window.__billxWidget) return;
  window.__billxWidget = true;
  var key = tag.getAttribute("data-key");
  var api = tag.getAttribute("data-api") || new URL(tag.src).origin;
  var title = tag.getAttribute("data-title") || "Chat with us";
  var store = "billx-widget:" + key;
  function load(name) { try { return localStorage.getItem(store + ":" + name); } catch (e) { return null; } }
  function save(name, value) { try { localStorage.setItem(store + ":" + name, value); } catch (e) {} }
  var contact = load("contact");
  if (!contact) { contact = "vis_web_" + Math.random().toString(36).slice(2) + Date.now().toString(36); save("contact", contact); }
  var conversation = load("conversation");

  var root = document.createElement("div");
  root.style.cssText = "position:fixed;right:16px;bottom:16px;z-index:2147483000;font:14px/1.4 system-ui,sans-serif";
  var button = document.createElement("button");
  button.textContent = title;
  button.style.cssText = "border:0;border-radius:20px;padding:10px 16px;background:#111;color:#fff;cursor:pointer";
  var panel = document.createElement("div");
  panel.style.cssText = "display:none;width:320px;height:420px;background:#fff;border:1px solid #ddd;border-radius:12px;box-shadow:0 8px 24px rgba(0,0,0,.15);flex-direction:column;margin-bottom:8px";
  var log = document.createElement("div");
  log.style.cssText = "flex:1;overflow-y:auto;padding:12px";
  var form = document.createElement("form");
  form.style.cssText = "display:flex;border-top:1px solid #eee";
  var input = document.createElement("input");
  input.placeholder = "Type a message";
  input.maxLength = 4000;
  input.style.cssText = "flex:1;border:0;padding:10px;outline:none";
  var send = document.createElement("button");
  send.textContent = "Send";
  send.style.cssText = "border:0;background:none;padding:0 12px;cursor:pointer";
  form.appendChild(input); form.appendChild(send);
  panel.appendChild(log); panel.appendChild(form);
  root.appendChild(panel); root.appendChild(button);
  button.onclick = function () { panel.style.display = panel.style.display === "none" ? "flex" : "none"; input.focus(); };

  function bubble(who, text) {
    var p = document.createElement("div");
    p.textContent = text;
    p.style.cssText = "margin:6px 0;padding:8px 10px;border-radius:10px;max-width:85%;white-space:pre-wrap;" +
      (who === "user" ? "background:#111;color:#fff;margin-left:auto" : "background:#f1f1f1;color:#111");
    log.appendChild(p); log.scrollTop = log.scrollHeight;
    return p;
  }

  // While a person from the shop has taken over, their replies are fetched every few seconds.
  var seen = -1, polling = null;
  function poll() {
    if (!conversation) return;
    fetch(api + "/v1/widget/conversations/" + conversation + "?contact_id=" + encodeURIComponent(contact), { headers: { "X-Publishable-Key": key } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) {
        if (!c) return;
        if (seen >= 0) c.messages.slice(seen).forEach(function (m) { if (m.role === "staff") bubble("bot", m.content); });
        seen = c.messages.length;
        if (c.mode !== "human" && polling) { clearInterval(polling); polling = null; seen = -1; }
      })
      .catch(function () {});
  }

  function handle(event, data, reply) {
    if (event === "meta" && data.mode === "human" && !polling) { poll(); polling = setInterval(poll, 4000); }
    if (event === "thinking" && data.conversation_id) { conversation = data.conversation_id; save("conversation", conversation); }
    if (event === "content") { reply.textContent += data.delta; log.scrollTop = log.scrollHeight; }
    if (event === "done" && data.reply === null) reply.textContent = "Thanks! Someone from our team will answer here shortly.";
    if (event === "error") reply.textContent = "Sorry, something went wrong (" + (data.title || "error") + ").";
  }

  form.onsubmit = function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = ""; bubble("user", text);
    var reply = bubble("bot", "");
    var body = { message: text, contact_id: contact };
    if (conversation) body.conversation_id = conversation;
    fetch(api + "/v1/widget/chat/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Publishable-Key": key },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok) return response.json().then(function (problem) {
        if (response.status === 404 && conversation) { conversation = null; save("conversation", ""); }
        handle("error", problem, reply);
      });
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) return;
          buffer += decoder.decode(chunk.value, { stream: true });
          var blocks = buffer.split("\n\n");
          buffer = blocks.pop();
          blocks.forEach(function (block) {
            var event = "message", data = "";
            block.split("\n").forEach(function (line) {
              if (line.indexOf("event:") === 0) event = line.slice(6).trim();
              else if (line.indexOf("data:") === 0) data += line.slice(5).trim();
            });
            try { handle(event, JSON.parse(data || "{}"), reply); } catch (err) {}
          });
          return pump();
        });
      }
      return pump();
    }).catch(function () { reply.textContent = "Sorry, the chat is not reachable right now."; });
  };

  if (document.body) document.body.appendChild(root);
  else document.addEventListener("DOMContentLoaded", function () { document.body.appendChild(root); });
})();
`;
