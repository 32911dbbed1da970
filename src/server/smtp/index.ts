/** The SMTP listener of `sendwell serve`. */
export { createSmtpListener, parseListenAddress, type ListeningAddress, type SmtpListener, type SmtpListenerOptions, type UpstreamCapabilities } from './listener.js';
export { DEFAULT_ALLOW_NETWORKS, LOCAL_AUTH_NETWORKS, networkList, normalizeIp, type NetworkList } from './networks.js';
export { formatReply, policyReply, REPLIES, type Reply } from './replies.js';
