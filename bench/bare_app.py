"""The ceiling for webhook intake: a bare Flask endpoint that reads the body and answers 200."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/webhooks/shopify")
def webhook() -> tuple[str, int]:
    request.get_data()
    return "", 200
