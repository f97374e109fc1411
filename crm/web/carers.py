from flask import Blueprint

bp = Blueprint("carers", __name__)
