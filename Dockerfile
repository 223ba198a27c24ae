FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORT=8000
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# Static files for the admin, served by whitenoise under gunicorn.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput --verbosity 0

RUN useradd --create-home vingine
USER vingine

EXPOSE 8000
# exec: gunicorn itself gets SIGTERM (graceful stop) and SIGHUP (reload), not the shell.
CMD ["sh", "-c", "exec gunicorn vingine.wsgi --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY:-3} --graceful-timeout 25 --access-logfile -"]
