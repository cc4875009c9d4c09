from flickerd.cli import main

raise SystemExit(main())
