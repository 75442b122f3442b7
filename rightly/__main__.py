from rightly.cli.main import app

app(prog_name="rightly")
