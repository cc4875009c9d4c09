from flickerd.cli import console

console()
