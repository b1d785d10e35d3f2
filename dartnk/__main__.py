from dartnk.cli import main

main()
