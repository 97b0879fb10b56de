import { describe, expect, it } from "vitest";
import { testEnv } from "./harness/helpers";

function callSession(callSid: string) {
  return testEnv.CALL_SESSION.get(testEnv.CALL_SESSION.idFromName(callSid));
}

const IDENTITY = { "X-Billx-Call-Id": "call_test", "X-Billx-Org-Id": "org_test", "X-Billx-Assistant-Id": "asst_test" };

describe("CallSession connect", () => {
  it("accepts the media stream WebSocket the stream route forwards", async () => {
    const response = await callSession("CA-connect-1").fetch("https://call-session/connect", { headers: { Upgrade: "websocket", ...IDENTITY } });
    expect(response.status).toBe(101);
    const socket = response.webSocket;
    expect(socket).toBeTruthy();
    socket?.accept();
    socket?.close(1000, "done");
  });

  it("refuses a plain request and one without the call's identity", async () => {
    const plain = await callSession("CA-connect-2").fetch("https://call-session/connect", { headers: IDENTITY });
    expect(plain.status).toBe(426);
    const anonymous = await callSession("CA-connect-2").fetch("https://call-session/connect", { headers: { Upgrade: "websocket" } });
    expect(anonymous.status).toBe(400);
  });
});
