/** The control plane's version, sent in the hello reply. */
export const SERVER_VERSION = "0.1.0";
