from claragen.cli import main

main()
