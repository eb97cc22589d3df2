namespace Lguest.Boot;

/// <summary>
/// A kernel or initrd the loader refuses: not a bzImage or ELF file, truncated, for another machine,
/// inconsistent, or not fitting guest memory. The message names the file and the problem in one line;
/// nothing was written to guest memory when it is thrown before loading began.
/// </summary>
public sealed class KernelImageException : LguestException
{
    internal KernelImageException(string path, string problem, Exception? innerException = null)
        : base($"{path}: {problem}", innerException)
    {
        FilePath = path;
        Problem = problem;
    }

    /// <summary>The kernel or initrd file refused.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with it, without the file name.</summary>
    public string Problem { get; }
}
