package kqueue

// hasReceipt: x/sys has no EV_RECEIPT for NetBSD; changes applied alone
// use HAProxy's fallback (see sysQueue.receipts).
const hasReceipt = false
