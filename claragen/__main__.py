from claragen.transpiler.cli import main

main()
