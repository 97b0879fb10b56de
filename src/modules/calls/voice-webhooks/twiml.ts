/** TwiML, Twilio's XML for what a call does next; every value we put in it is escaped. */

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c] as string);
}

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>';

/** Says `message` and hangs up. */
export function sayAndHangUp(message: string): string {
  return `${XML_HEAD}<Response><Say>${escapeXml(message)}</Say><Hangup/></Response>`;
}

/**
 * Connects the call to a bidirectional Media Stream at `url`. `<Parameter>`s reach the bridge only
 * in the stream's `start` message, for context; access is decided by the token in the URL.
 */
export function connectStream(url: string, parameters: Record<string, string>): string {
  const params = Object.entries(parameters)
    .map(([name, value]) => `<Parameter name="${escapeXml(name)}" value="${escapeXml(value)}"/>`)
    .join("");
  return `${XML_HEAD}<Response><Connect><Stream url="${escapeXml(url)}">${params}</Stream></Connect></Response>`;
}
