namespace Lguest.Cli.Api;

/// <summary>Checks a host file a request names, as Firecracker does when it opens it at PUT time.</summary>
internal static class ApiFiles
{
    /// <summary>Why <paramref name="path"/> cannot be opened for reading, or null when it can.</summary>
    public static string? CannotOpen(string path)
    {
        if (path.Length == 0)
            return "the path is empty";
        if (Directory.Exists(path))
            return $"'{path}' is a directory";
        try
        {
            using FileStream file = File.OpenRead(path);
            return null;
        }
        catch (FileNotFoundException)
        {
            return $"'{path}': no such file";
        }
        catch (DirectoryNotFoundException)
        {
            return $"'{path}': no such file";
        }
        catch (UnauthorizedAccessException)
        {
            return $"'{path}': permission denied";
        }
        catch (IOException e)
        {
            return $"'{path}': {e.Message}";
        }
    }
}
