from slateboard.cli import main

main()
