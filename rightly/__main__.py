from rightly.app.cli import main

main()
