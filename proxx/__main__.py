from proxx.cli import main

main()
