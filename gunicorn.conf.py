"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py 'backend.app:create_app()'`.

The access log names the path only (%(U)s), never the query string: a search box (a phone or ID number
typed into /admin/cadres?q=) must not reach a log file.
"""

bind = "127.0.0.1:8000"
workers = 4
control_socket_disable = True  # gunicorn 27 otherwise creates a control socket under the home directory
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
