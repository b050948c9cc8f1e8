namespace Retrieval.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("retrieval: commands arrive with the CLI work");
        return 2;
    }
}
