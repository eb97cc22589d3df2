namespace Lguest.Cli;

/// <summary>Entry point of the <c>lguest</c> command: parse, run, map errors to exit codes.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (!RunArguments.TryParse(args, out RunArguments arguments, out string? error))
        {
            // GNU's convention (coreutils' usage()): the problem, then where the help is, on stderr; the seed's exit 1.
            Console.Error.WriteLine($"lguest: {error}");
            Console.Error.WriteLine(RunArguments.TryHelp);
            return (int)ExitCode.Failure;
        }
        if (arguments.Help)
        {
            Console.Out.WriteLine(RunArguments.Usage);
            return (int)ExitCode.Ok;
        }
        if (arguments.Jail)
        {
            if (!Confinement.JailInside.IsJailed)
                return Confinement.JailParent.Run(Console.Error);
            if (!Confinement.JailInside.Prepare(Console.Error))
                return (int)ExitCode.Failure;
        }
        if (arguments.ApiSocket is not null || arguments.ConfigFile is not null)
            return (int)Api.ApiCommand.Execute(arguments, Console.Error);
        return (int)RunCommand.Execute(arguments, Console.Error);
    }
}
