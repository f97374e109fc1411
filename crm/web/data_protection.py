from flask import Blueprint

bp = Blueprint("data_protection", __name__)
