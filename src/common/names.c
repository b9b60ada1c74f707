/* SPDX-License-Identifier: MIT */
/* names.c - printable names of message types and close status codes. */
#include <stdio.h>

#include "wsc.h"
#include "common/error.h"

const char *wsc_msg_type_string(wsc_msg_type type)
{
    switch (type) {
    case WSC_TEXT: return "text";
    case WSC_BINARY: return "binary";
    default: return "unknown";
    }
}

const char *wsc_status_string(int code)
{
    static _Thread_local char other[32];
    switch (code) {
    case 1000: return "NormalClosure";
    case 1001: return "GoingAway";
    case 1002: return "ProtocolError";
    case 1003: return "UnsupportedData";
    case 1005: return "NoStatusRcvd";
    case 1006: return "AbnormalClosure";
    case 1007: return "InvalidFramePayloadData";
    case 1008: return "PolicyViolation";
    case 1009: return "MessageTooBig";
    case 1010: return "MandatoryExtension";
    case 1011: return "InternalError";
    case 1012: return "ServiceRestart";
    case 1013: return "TryAgainLater";
    case 1014: return "BadGateway";
    case 1015: return "TLSHandshake";
    default:
        wsc__snprintf(other, sizeof other, "StatusCode(%d)", code);
        return other;
    }
}
