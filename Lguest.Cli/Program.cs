namespace Lguest.Cli;

/// <summary>Entry point of the <c>lguest</c> command.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        Console.Error.WriteLine("lguest: the launcher is not built yet (issue 4)");
        return args.Length == 0 ? 2 : 1;
    }
}
