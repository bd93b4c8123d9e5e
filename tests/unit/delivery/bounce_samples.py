"""Delivery reports and complaint reports written after the examples of RFC 3464 (appendix) and RFC 5965
(appendix B), with the fields a test needs filled in; shared by the parser's unit tests and the IMAP tests."""

from __future__ import annotations


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def dsn(recipient: str, status: str, diagnostic: str, *, action: str = "failed",
        to: str = "bounces@example.org", original_message_id: str = "<unknown@example.org>",
        original_return_path: str = "", report_id: str = "<199407072116.RAA14128@mx.example.com>",
        original_recipient: str | None = None) -> bytes:
    """A one-recipient delivery report shaped like RFC 3464's first example (Sendmail at cs.utk.edu)."""
    return_path = f"Return-Path: <{original_return_path}>\n" if original_return_path else ""
    original = original_recipient if original_recipient is not None else recipient
    diagnostic_line = f"Diagnostic-Code: smtp; {diagnostic}\n" if diagnostic else ""
    return _crlf(f"""Date: Thu, 7 Jul 2026 17:16:05 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>
Message-Id: {report_id}
Subject: Returned mail: see transcript for details
To: <{to}>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="RAA14128.773615765/mx.example.com"

--RAA14128.773615765/mx.example.com

The original message was received at Tue, 7 Jul 2026 17:10:28 -0400

   ----- The following addresses had delivery problems -----
<{recipient}>  ({action})

--RAA14128.773615765/mx.example.com
content-type: message/delivery-status

Reporting-MTA: dns; mx.example.com
Arrival-Date: Tue, 7 Jul 2026 17:10:28 -0400

Original-Recipient: rfc822;{original}
Final-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
{diagnostic_line}Last-Attempt-Date: Thu, 7 Jul 2026 17:15:49 -0400

--RAA14128.773615765/mx.example.com
content-type: message/rfc822

{return_path}From: News <news@example.org>
To: <{recipient}>
Subject: Spring news
Message-ID: {original_message_id}
Date: Tue, 7 Jul 2026 17:10:20 -0400
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello.

--RAA14128.773615765/mx.example.com--
""")


# RFC 3464 appendix, "Multi-Recipient DSN Example": one failed with a 5.0.0 and words, one delayed, one unknown.
RFC3464_MULTI = _crlf("""Date: Fri, 8 Jul 1994 09:21:47 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
Subject: Returned mail: User unknown
To: <owner-ups-mib@CS.UTK.EDU>
Message-Id: <199407081321.JAA00435@CS.UTK.EDU>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="JAA13167.773673707/CS.UTK.EDU"

--JAA13167.773673707/CS.UTK.EDU
content-type: text/plain; charset=us-ascii

   ----- The following addresses had delivery problems -----
<arathib@vnet.ibm.com>  (unrecoverable error)
<wsnell@sdcc13.ucsd.edu>  (unrecoverable error)

--JAA13167.773673707/CS.UTK.EDU
content-type: message/delivery-status

Reporting-MTA: dns; cs.utk.edu

Original-Recipient: rfc822;arathib@vnet.ibm.com
Final-Recipient: rfc822;arathib@vnet.ibm.com
Action: failed
Status: 5.0.0 (permanent failure)
Diagnostic-Code: smtp; 550 'arathib@vnet.IBM.COM' is not a
    registered gateway user
Remote-MTA: dns; vnet.ibm.com

Original-Recipient: rfc822;johnh@hpnjld.njd.hp.com
Final-Recipient: rfc822;johnh@hpnjld.njd.hp.com
Action: delayed
Status: 4.0.0 (hpnjld.njd.jp.com: host name lookup failure)

Original-Recipient: rfc822;wsnell@sdcc13.ucsd.edu
Final-Recipient: rfc822;wsnell@sdcc13.ucsd.edu
Action: failed
Status: 5.0.0
Diagnostic-Code: smtp; 550 user unknown
Remote-MTA: dns; sdcc13.ucsd.edu

--JAA13167.773673707/CS.UTK.EDU
content-type: message/rfc822

[original message goes here]

--JAA13167.773673707/CS.UTK.EDU--
""")

# RFC 3464 appendix, "Simple DSN": failed after five days of time-outs, with status 4.0.0.
RFC3464_TIMEOUT = _crlf("""Date: Thu, 7 Jul 1994 17:16:05 -0400
From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
Message-Id: <199407072116.RAA14128@CS.UTK.EDU>
Subject: Returned mail: Cannot send message for 5 days
To: <owner-info-mime@cs.utk.edu>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="RAA14128.773615765/CS.UTK.EDU"

--RAA14128.773615765/CS.UTK.EDU

The original message was received at Sat, 2 Jul 1994 17:10:28 -0400
from root@localhost

--RAA14128.773615765/CS.UTK.EDU
content-type: message/delivery-status

Reporting-MTA: dns; cs.utk.edu

Original-Recipient: rfc822;louisl@larry.slip.umd.edu
Final-Recipient: rfc822;louisl@larry.slip.umd.edu
Action: failed
Status: 4.0.0
Diagnostic-Code: smtp; 426 connection timed out
Last-Attempt-Date: Thu, 7 Jul 1994 17:15:49 -0400

--RAA14128.773615765/CS.UTK.EDU
content-type: message/rfc822

[original message goes here]

--RAA14128.773615765/CS.UTK.EDU--
""")


def arf(recipient: str, *, feedback_type: str = "abuse", original_message_id: str = "<unknown@example.org>",
        original_mail_from: str = "bounces@example.org", report_id: str = "<arf-1@mail.example.com>",
        redacted: bool = False) -> bytes:
    """A complaint shaped like RFC 5965's appendix B.2 example, about a message we sent to ``recipient``."""
    rcpt = "" if redacted else f"Original-Rcpt-To: <{recipient}>\nRemoval-Recipient: {recipient}\n"
    to = "undisclosed-recipients:;" if redacted else f"<{recipient}>"
    return _crlf(f"""From: <abusedesk@mail.example.com>
Date: Thu, 8 Mar 2026 17:40:36 EDT
Subject: FW: Spring news
To: <fbl@example.org>
Message-ID: {report_id}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.1 on Thu, 8 Mar 2026 14:00:00 EDT.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: {feedback_type}
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <{original_mail_from}>
{rcpt}Arrival-Date: Thu, 8 Mar 2026 14:00:00 EDT
Reporting-MTA: dns; mail.example.com
Source-IP: 192.0.2.1
Authentication-Results: mail.example.com;
               spf=pass smtp.mail={original_mail_from}
Reported-Domain: example.org

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

From: News <news@example.org>
Received: from mailserver.example.org (mailserver.example.org
        [192.0.2.1]) by mail.example.com with ESMTP id M63d4137594e46;
        Thu, 08 Mar 2026 14:00:00 -0400
To: {to}
Subject: Spring news
MIME-Version: 1.0
Content-type: text/plain
Message-ID: {original_message_id}
Date: Thu, 08 Mar 2026 12:31:03 -0500

Spring news, spring news.
--part1_13d.2e68ed54_boundary--
""")


def out_of_office(to: str = "bounces@example.org", *, headers: str = "Auto-Submitted: auto-replied\n",
                  subject: str = "Out of office: Spring news") -> bytes:
    return _crlf(f"""From: Ann <ann@example.com>
To: <{to}>
Subject: {subject}
Date: Thu, 7 Jul 2026 18:00:00 +0200
Message-ID: <ooo-1@example.com>
{headers}MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

I am away until Monday and will read your message when I return.
""")


GARBAGE = b"\x00\xff\xfe this is not an email at all \x00\r\n\x01\x02"
