/** Wire protocol version. A peer that speaks another version is refused at `hello`. */
export const PROTOCOL_VERSION = 1;
