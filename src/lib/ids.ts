import { monotonicFactory } from "ulidx";

const ulid = monotonicFactory();

/** Prefixes of every id the API hands out; the prefix tells a reader what the id is. */
export type IdPrefix =
  | "org"
  | "usr"
  | "role"
  | "inv"
  | "sess"
  | "rt"
  | "key"
  | "aud"
  | "otp"
  | "prt"
  | "msg"
  | "dlq"
  | "cron"
  | "cle"
  | "crs"
  | "use"
  | "apu"
  | "prod"
  | "cat"
  | "stk"
  | "cus"
  | "cul"
  | "mer"
  | "bill"
  | "bli"
  | "bpy"
  | "brf"
  | "cpy"
  | "mpu"
  | "mpi"
  | "mpy"
  | "mel"
  | "ldb"
  | "qrn"
  | "qcv"
  | "qex"
  | "tool"
  | "agt"
  | "ast"
  | "bkg"
  | "doc"
  | "chk"
  | "bmd"
  | "ivc"
  | "ivl"
  | "pn"
  | "call"
  | "ctn"
  | "cbu";

/** A prefixed, time-sortable id such as `org_01JD3X...`. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}
