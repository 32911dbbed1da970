# The guide's sample (000_78bf9b950a01437e.txt, "Beispiel-Code in Python"), unchanged
# except: host and port come from the command line (the sendwell listener under
# test), and the placeholder addresses are filled in.
import sys

from email.mime.text import MIMEText
import email.utils
import email.charset
import smtplib
body = 'Dies wäre eine Test-Message, sie hätte sogar Umlaute.'
subject = 'Bloß ein Test'
sender_name = 'Vorname Nachname'
sender_addr = 'vorname.nachname@example.org'
recipient = 'empfaenger@example.org'
charset = email.charset.Charset('utf-8')
# Quoted Printable: So bleibt der Quelltext der E-Mail menschenlesbar.
charset.body_encoding = email.charset.QP
mime = MIMEText(body, _charset=charset)
mime['From'] = email.utils.formataddr((sender_name, sender_addr)) # Ergibt Vorname Nachname <addr>
mime['To'] = recipient
mime['Subject'] = subject
mime['Date'] = email.utils.formatdate(localtime=True)
mime['Message-ID'] = email.utils.make_msgid()
try:
    smtp = smtplib.SMTP(
        host=sys.argv[1],
        port=int(sys.argv[2]))
    smtp.send_message(
        mime,
        from_addr=sender_addr, # Envelope Sender
        to_addrs=[recipient])
    smtp.quit()
except (smtplib.SMTPException, ConnectionRefusedError) as e:
    print('Es gab einen SMTP-Fehler:', e)
